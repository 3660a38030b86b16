// StrictModes-style trust, as a user other than root could attack it: each case below was
// accepted before (exit 0) and must now be refused (exit 78) naming the path. Real kvc CLI; the
// build is a --dry-run (the checks run where the build starts). The shipped bundle ignores the
// test-only override.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, ROOT, NODE, kvc, kvcEnv, makeConfigDir, removeDir } from './harness.js';

const build = (configDir, env = {}) => kvc(['--dry-run', 'build', 'usbip', KVER, '--force'], { configDir, env });

describe('trust: what others could have written is refused', function () {
  this.timeout(120000);
  let configDir;
  // The bundle `make install` ships, built as it would be (the integration tests run before the e2e's install).
  before(() => expect(spawnSync('make', ['-s', 'dist/kvc.mjs'], { cwd: ROOT, encoding: 'utf8' }).status).to.equal(0));
  beforeEach(() => { configDir = makeConfigDir(); });
  afterEach(() => removeDir(configDir));

  it('accepts the shipped instance as it is', () => {
    expect(build(configDir).status).to.equal(0);
  });

  it('a mode 0666 file in the build context (pre-unload, run in the image)', () => {
    chmodSync(join(configDir, 'usbip/pre-unload'), 0o666);
    const result = build(configDir);
    expect(result.status).to.equal(78);
    expect(result.stderr).to.match(/usbip\/pre-unload is writable by others \(mode 666/);
  });

  it('a mode 0777 folder inside the build context', () => {
    mkdirSync(join(configDir, 'usbip/patches'));
    chmodSync(join(configDir, 'usbip/patches'), 0o777);
    const result = build(configDir);
    expect(result.status).to.equal(78);
    expect(result.stderr).to.match(/usbip\/patches is writable by others/);
  });

  it('a symbolic link in the context that leads out of it', () => {
    symlinkSync('/etc/shadow', join(configDir, 'usbip/shadow'));
    const result = build(configDir);
    expect(result.status).to.equal(78);
    expect(result.stderr).to.match(/is a symbolic link out of the build context/);
  });

  it('a grandparent folder owned by another user (who could swap the context with mv)', () => {
    const top = mkdtempSync(join(tmpdir(), 'kvc-grand-'));
    const nested = join(top, 'a', 'kvc');
    mkdirSync(join(top, 'a'));
    renameSync(configDir, nested);
    configDir = nested;
    chownSync(top, 65534, 65534);
    const result = build(configDir);
    chownSync(top, 0, 0);
    expect(result.status).to.equal(78);
    expect(result.stderr).to.match(new RegExp(`${top} is owned by uid 65534, not root`));
  });

  it('a .conf that is a symbolic link into a world-writable folder', () => {
    mkdirSync(join(configDir, 'shared'));
    chmodSync(join(configDir, 'shared'), 0o777);
    renameSync(join(configDir, 'usbip.conf'), join(configDir, 'shared/usbip.conf'));
    symlinkSync('shared/usbip.conf', join(configDir, 'usbip.conf'));
    const result = build(configDir);
    expect(result.status).to.equal(78);
    expect(result.stderr).to.match(/shared is writable by others/);
  });

  it('KVC_TEST_INSECURE_FILES=1 is ignored by the bundle make install ships', () => {
    chmodSync(join(configDir, 'usbip/pre-unload'), 0o666);
    expect(build(configDir, { KVC_TEST_INSECURE_FILES: '1' }).status, 'lib/ (tests) honours it').to.equal(0);
    const bundled = spawnSync(NODE, [join(ROOT, 'dist/kvc.mjs'), '--config-dir', configDir, '--dry-run', 'build', 'usbip', KVER, '--force'], { env: kvcEnv({ KVC_TEST_INSECURE_FILES: '1' }), encoding: 'utf8' });
    expect(bundled.status, bundled.stderr).to.equal(78);
    expect(bundled.stderr).to.match(/pre-unload is writable by others/);
  });
});
