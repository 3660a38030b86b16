// Integration test: the disk fills up during a build. podman's storage is moved (with
// CONTAINERS_STORAGE_CONF) onto a small tmpfs that holds the base image and 16 MB more, and a real
// podman build writes more than that. kvc must say so in one line with what to do, and leave that
// storage as it found it: no half-built image, no pending name, no working container, no lock.
// The build is a test-only instance (test/fixtures/fill-instance) whose step writes 256 MB: the
// USB/IP build's apt-get was tried first, and on a full disk it sometimes hangs in its download
// methods instead of failing, which tests apt, not kvc.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, ROOT, kvc, makeConfigDir, podman, podmanState, removeDir } from './harness.js';

const BASE = 'docker.io/library/debian:bookworm';
const HEADROOM_KIB = 16 * 1024;

describe('integration: the disk fills up during a build', function () {
  this.timeout(10 * 60 * 1000);
  let dir;
  let mnt;
  let env;
  let configDir;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-full-'));
    mnt = join(dir, 'storage');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512m,mode=0700', 'kvc-test-full', mnt]);
    writeFileSync(join(dir, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${mnt}/graph"\nrunroot = "${mnt}/run"\n`);
    env = { CONTAINERS_STORAGE_CONF: join(dir, 'storage.conf'), KVC_RUN_DIR: join(dir, 'run') };
    const archive = join(dir, 'base.tar');
    podman(['save', '--quiet', '--output', archive, BASE]);
    podman(['load', '--quiet', '--input', archive], { env });
    rmSync(archive);
    // Shrink the tmpfs to what the base image uses plus a little: the build's step overfills it.
    const fs = statfsSync(mnt);
    const usedKiB = Math.ceil(((fs.blocks - fs.bfree) * fs.bsize) / 1024);
    execFileSync('mount', ['-o', `remount,size=${usedKiB + HEADROOM_KIB}k`, mnt]);
    configDir = makeConfigDir();
    cpSync(join(ROOT, 'test/fixtures/fill-instance'), configDir, { recursive: true });
  });

  after(() => {
    if (mnt !== undefined) execFileSync('umount', ['--recursive', '--lazy', mnt]);
    if (dir !== undefined) removeDir(dir);
    if (configDir !== undefined) removeDir(configDir);
  });

  it('kvc build: exit 70, "no space left on device" and how to free it, the storage as it was', () => {
    const before = podmanState(env);
    expect(before.images).to.contain(BASE);
    const result = kvc(['build', 'fill', KVER], { configDir, env, timeout: 5 * 60 * 1000 });
    expect(result.status, result.stderr).to.equal(70);
    const last = result.stderr.trimEnd().split('\n').pop();
    expect(last).to.match(new RegExp(`^kvc: error: building localhost/fill-1\\.0\\.0:${KVER.replaceAll('.', '\\.')}\\.kvc-pending-\\d+ failed: no space left on device \\(podman exit \\d+\\); free space where podman keeps images and containers \\(\`podman system df\` shows it; \`podman image prune\` removes unused images\\) and in /var/tmp, then run again$`));
    expect(result.stderr, 'no stack trace').to.not.match(/\n\s+at /);
    expect(podmanState(env), 'images and containers in that storage are unchanged').to.deep.equal(before);
    // The lock file stays (flock(2) on a file never removed); the lock on it was released.
    expect(readdirSync(join(dir, 'run'))).to.deep.equal(['fill.lock']);
    expect(spawnSync('flock', ['--exclusive', '--nonblock', join(dir, 'run', 'fill.lock'), 'true']).status, 'the instance lock was released').to.equal(0);
  });
});
