// A host migrating from the bash kmods-via-containers keeps its kmods-via-containers.conf (a
// shell fragment with a function and $(...)) and its instance files with git:// contexts: kvc
// reads them (the real CLI), warning once about what it skips.
import { expect } from 'chai';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KVER, ROOT, kvc, makeConfigDir, removeDir } from './harness.js';

describe('the bash KVC\'s files', function () {
  this.timeout(60000);
  let configDir;
  beforeEach(() => { configDir = makeConfigDir(''); });
  afterEach(() => removeDir(configDir));

  it('kmods-via-containers.conf with its runtime-detection function: read, shell lines skipped with one warning', () => {
    copyFileSync(join(ROOT, 'test/fixtures/legacy-kvc/kmods-via-containers.conf'), join(configDir, 'kmods-via-containers.conf'));
    writeFileSync(join(configDir, 'kvc.conf'), '');
    const result = kvc(['status', '--json'], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    const warnings = result.stderr.trim().split('\n').filter((line) => line.includes('kmods-via-containers.conf'));
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.match(/lines 5, 6, 7, 8, 9, 10, 11 are shell code, not KEY=value settings, and are skipped/);
  });

  it('KVC_BUILD_RETRY_SECONDS=0 is refused (a rebuild storm otherwise)', () => {
    writeFileSync(join(configDir, 'kvc.conf'), 'KVC_BUILD_RETRY_SECONDS=0\n');
    const result = kvc(['status'], { configDir });
    expect(result.status).to.equal(78);
    expect(result.stderr).to.match(/KVC_BUILD_RETRY_SECONDS: must be at least 1/);
  });

  it('an instance file with a git:// context, as kvc-mellanox and kvc-simple-kmod have, is accepted and passed to the runtime as is', () => {
    writeFileSync(join(configDir, 'simple.conf'), [
      'KMOD_CONTAINER_BUILD_CONTEXT="git://github.com/kmods-via-containers/kvc-simple-kmod.git"',
      'KMOD_CONTAINER_BUILD_FILE=Dockerfile.rhel',
      'KMOD_SOFTWARE_VERSION=dd1a7d4',
      'KMOD_NAMES="simple-kmod simple-procfs-kmod"', ''].join('\n'));
    const result = kvc(['--dry-run', 'build', 'simple', KVER, '--force'], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/ --file Dockerfile\.rhel .* git:\/\/github\.com\/kmods-via-containers\/kvc-simple-kmod\.git$/m);
  });
});

describe('the runtime\'s working directory', function () {
  this.timeout(60000);
  it('is / whatever the folder kvc is started in (a Containerfile planted there is never looked up)', async () => {
    const { mkdtempSync, readFileSync, chmodSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { spawnSync } = await import('node:child_process');
    const { NODE, MAIN, kvcEnv } = await import('./harness.js');
    const configDir = makeConfigDir('');
    const planted = mkdtempSync(join(tmpdir(), 'kvc-cwd-'));
    writeFileSync(join(planted, 'Containerfile'), 'FROM evil\n');
    // A stand-in podman records the folder it is run in (the real one would be told to build).
    const bin = mkdtempSync(join(tmpdir(), 'kvc-cwd-bin-'));
    writeFileSync(join(bin, 'podman'), `#!/bin/sh\npwd >> ${join(bin, 'cwd')}\necho '[]'\nexit 0\n`);
    chmodSync(join(bin, 'podman'), 0o755);
    const result = spawnSync(NODE, [MAIN, '--config-dir', configDir, 'status'], { cwd: planted, env: kvcEnv({ PATH: `${bin}:/usr/bin:/bin` }), encoding: 'utf8' });
    removeDir(configDir);
    expect(result.status, result.stderr).to.equal(0);
    const dirs = readFileSync(join(bin, 'cwd'), 'utf8').trim().split('\n');
    expect(dirs.length).to.be.greaterThan(0);
    expect([...new Set(dirs)]).to.deep.equal(['/']);
  });
});
