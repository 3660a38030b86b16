// Integration tests: bad input gives a one-line error, a non-zero exit, and changes nothing in podman.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, kvc, makeConfigDir, removeDir, podmanState } from './harness.js';

describe('integration: bad input changes nothing', function () {
  this.timeout(120000);
  let configDir;
  let before;

  beforeEach(() => {
    configDir = makeConfigDir();
    before = podmanState();
  });
  afterEach(() => {
    expect(podmanState(), 'podman images and containers are unchanged').to.deep.equal(before);
    removeDir(configDir);
  });

  const oneLineError = (result, status, pattern) => {
    expect(result.status, result.stderr).to.equal(status);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines, result.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^kvc: /);
    expect(lines[0]).to.match(pattern);
    expect(result.stdout).to.equal('');
  };
  const edit = (key, value) => {
    const path = join(configDir, 'usbip.conf');
    const text = readFileSync(path, 'utf8').split('\n').filter((line) => !line.startsWith(`${key}=`));
    if (value !== undefined) text.push(`${key}=${value}`);
    writeFileSync(path, text.join('\n'));
  };

  it('unknown instance: exit 64, names the configured ones', () => {
    oneLineError(kvc(['build', 'nosuch', KVER], { configDir }), 64, /unknown instance "nosuch".*configured instances: usbip/);
  });

  for (const kver of ['../x', 'a b', '', '6.1/../../etc', '-rf']) {
    it(`kver ${JSON.stringify(kver)}: exit 64`, () => {
      oneLineError(kvc(['build', 'usbip', '--', kver], { configDir }), 64, /is not a kernel release/);
    });
  }

  for (const key of ['KMOD_NAMES', 'KMOD_SOFTWARE_VERSION', 'KMOD_CONTAINER_BUILD_FILE', 'KMOD_CONTAINER_BUILD_CONTEXT']) {
    it(`${key} missing, then empty: exit 78 naming file and key`, () => {
      edit(key, undefined);
      oneLineError(kvc(['build', 'usbip', KVER], { configDir }), 78, new RegExp(`usbip\\.conf: ${key}: is missing; add a line such as ${key}=`));
      edit(key, '""');
      oneLineError(kvc(['build', 'usbip', KVER], { configDir }), 78, new RegExp(`usbip\\.conf: ${key}: is empty`));
    });
  }

  it('KMOD_NAMES with a character outside [A-Za-z0-9_-]: exit 78', () => {
    edit('KMOD_NAMES', '"usbip-core usbip;reboot"');
    oneLineError(kvc(['load', 'usbip', KVER], { configDir }), 78, /KMOD_NAMES: "usbip;reboot" is not a module name/);
  });

  it('runtime not on PATH: exit 69 saying what to install', () => {
    const bin = mkdtempSync(join(tmpdir(), 'kvc-nopodman-'));
    oneLineError(kvc(['build', 'usbip', KVER], { configDir, env: { PATH: bin } }), 69, /podman is not on PATH; install podman/);
    rmSync(bin, { recursive: true });
  });

  it('build context missing: exit 78', () => {
    edit('KMOD_CONTAINER_BUILD_CONTEXT', 'no-such-dir');
    oneLineError(kvc(['build', 'usbip', KVER], { configDir }), 78, /KMOD_CONTAINER_BUILD_CONTEXT: .*no-such-dir is not a directory/);
  });

  it('build file missing: exit 78', () => {
    edit('KMOD_CONTAINER_BUILD_FILE', 'Containerfile.nope');
    oneLineError(kvc(['build', 'usbip', KVER], { configDir }), 78, /KMOD_CONTAINER_BUILD_FILE: .*Containerfile\.nope does not exist/);
  });

  it('this machine\'s own kernel (no module support, no USB) is refused before building: exit 69', () => {
    oneLineError(kvc(['build', 'usbip', release()], { configDir }), 69, new RegExp(`kernel ${release().replaceAll('.', '\\.')} cannot take usbip's modules: it has no loadable module support`));
  });

  it('a kernel whose config unsets CONFIG_USB is refused before building, naming the config', () => {
    const root = mkdtempSync(join(tmpdir(), 'kvc-root-'));
    mkdirSync(join(root, 'boot'));
    writeFileSync(join(root, 'boot', `config-${KVER}`), 'CONFIG_MODULES=y\n# CONFIG_USB is not set\n');
    oneLineError(kvc(['build', 'usbip', KVER], { configDir, env: { KVC_HOST_ROOT: root } }), 69, /CONFIG_USB is not set in .*boot\/config-6/);
    rmSync(root, { recursive: true });
  });

  it('loading for a kernel that is not running is refused: exit 69', () => {
    oneLineError(kvc(['load', 'usbip', KVER], { configDir }), 69, /cannot load modules for .*the running kernel is/);
  });

  it('a bad --runtime is a usage error: exit 64', () => {
    const result = kvc(['--runtime', 'lxc', 'status'], { configDir });
    expect(result.status).to.equal(64);
    expect(result.stderr).to.match(/Allowed choices are podman, docker/);
  });

  it('a malformed kvc.conf: exit 78 naming the line', () => {
    writeFileSync(join(configDir, 'kvc.conf'), 'KVC_CONTAINER_RUNTIME=podman\nthis line is wrong\n');
    oneLineError(kvc(['status'], { configDir }), 78, /kvc\.conf: line 2 is not KEY=value/);
  });
});
