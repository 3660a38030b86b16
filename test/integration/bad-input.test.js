// Integration tests: the bad-input matrix. Each case gives a one-line error and a non-zero exit,
// and changes nothing: podman's images and containers, the loaded modules and kvc's files under
// its run folder are compared before and after. Real podman, real kvc CLI.
import { expect } from 'chai';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, kvc, makeConfigDir, removeDir, podmanState, podmanChanges } from './harness.js';

const conf = (dir) => join(dir, 'usbip.conf');
// Replaces (or with value undefined, removes) one key of the instance file.
const setKey = (dir, key, value) => {
  const lines = readFileSync(conf(dir), 'utf8').split('\n').filter((line) => !line.startsWith(`${key}=`));
  if (value !== undefined) lines.push(`${key}=${value}`);
  writeFileSync(conf(dir), lines.join('\n'));
};
const appendLine = (dir, line) => writeFileSync(conf(dir), `${readFileSync(conf(dir), 'utf8')}\n${line}\n`);
const fixtureBin = (script) => {
  const bin = mkdtempSync(join(tmpdir(), 'kvc-bin-'));
  writeFileSync(join(bin, 'podman'), script);
  chmodSync(join(bin, 'podman'), 0o755);
  return bin;
};

const KEYS = ['KMOD_CONTAINER_BUILD_CONTEXT', 'KMOD_CONTAINER_BUILD_FILE', 'KMOD_SOFTWARE_VERSION', 'KMOD_NAMES'];
const HOSTILE = ['"--privileged"', '"-v /:/host"', '"a;reboot"', '"$(reboot)"', '"`reboot`"', '"a|b"', '"a && b"'];

// [name, setup(configDir) → { env }?, kvc args, exit status, pattern of the one error line]
const CASES = [
  ['unknown instance', null, ['build', 'nosuch', KVER], 64, /unknown instance "nosuch".*configured instances: usbip/],
  ['instance name with a slash', null, ['build', '../etc/passwd', KVER], 64, /is not an instance name/],
  ['kver ../x', null, ['build', 'usbip', '../x'], 64, /"\.\.\/x" is not a kernel release/],
  ['kver with a slash', null, ['build', 'usbip', '6.1/../../etc'], 64, /is not a kernel release/],
  ['kver with spaces', null, ['build', 'usbip', 'a b'], 64, /is not a kernel release/],
  ['kver with a newline', null, ['build', 'usbip', '6.1\n0'], 64, /is not a kernel release/],
  ['empty kver', null, ['build', 'usbip', '--', ''], 64, /"" is not a kernel release/],
  ['kver that looks like an option', null, ['build', 'usbip', '--', '-rf'], 64, /is not a kernel release/],
  ...KEYS.flatMap((key) => [
    [`${key} missing`, (dir) => setKey(dir, key, undefined), ['build', 'usbip', KVER], 78, new RegExp(`usbip\\.conf: ${key}: is missing; add a line such as ${key}=`)],
    [`${key} empty`, (dir) => setKey(dir, key, '""'), ['build', 'usbip', KVER], 78, new RegExp(`usbip\\.conf: ${key}: is empty`)],
    ...HOSTILE.map((value) => [`${key}=${value}`, (dir) => setKey(dir, key, value), ['build', 'usbip', KVER], 78, new RegExp(`usbip\\.conf: (${key}: |line \\d+ )`)]),
  ]),
  ['KMOD_NAMES with a character outside [A-Za-z0-9_-]', (dir) => setKey(dir, 'KMOD_NAMES', '"usbip-core usb.ip"'), ['load', 'usbip', KVER], 78, /KMOD_NAMES: "usb\.ip" is not a module name/],
  ['a malformed line', (dir) => appendLine(dir, 'this is not a setting'), ['build', 'usbip', KVER], 78, /line \d+ is not KEY=value/],
  ['an ini section', (dir) => appendLine(dir, '[usbip]'), ['build', 'usbip', KVER], 78, /line \d+ is not KEY=value/],
  ['a duplicated key', (dir) => appendLine(dir, 'KMOD_NAMES="vhci-hcd"'), ['build', 'usbip', KVER], 78, /KMOD_NAMES: is set twice \(lines \d+ and \d+\)/],
  ['unbalanced quotes', (dir) => setKey(dir, 'KMOD_NAMES', '"usbip-core'), ['build', 'usbip', KVER], 78, /unbalanced quotes/],
  ['a non-UTF-8 file', (dir) => writeFileSync(conf(dir), Buffer.from('KMOD_NAMES="\xff\xfe"\n', 'latin1')), ['build', 'usbip', KVER], 78, /is not valid UTF-8 text/],
  ['a conf that is a directory', (dir) => { rmSync(conf(dir)); mkdirSync(conf(dir)); }, ['build', 'usbip', KVER], 78, /usbip\.conf: is a directory/],
  ['a conf that links outside the folder', (dir) => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'kvc-elsewhere-'));
    writeFileSync(join(elsewhere, 'x.conf'), readFileSync(conf(dir)));
    rmSync(conf(dir));
    symlinkSync(join(elsewhere, 'x.conf'), conf(dir));
  }, ['build', 'usbip', KVER], 78, /is a symbolic link to .*, outside/],
  ['a group-writable conf', (dir) => chmodSync(conf(dir), 0o664), ['build', 'usbip', KVER], 78, /usbip\.conf is writable by its group \(mode 664\); kvc runs as root.*chmod go-w/],
  ['a build context owned by another user', (dir) => chownSync(join(dir, 'usbip'), 1234, 1234), ['build', 'usbip', KVER], 78, /usbip is owned by uid 1234, not root/],
  ['a world-writable build file', (dir) => chmodSync(join(dir, 'usbip', 'Containerfile.debian'), 0o666), ['build', 'usbip', KVER], 78, /Containerfile\.debian is writable by others/],
  ['build context missing', (dir) => setKey(dir, 'KMOD_CONTAINER_BUILD_CONTEXT', 'no-such-dir'), ['build', 'usbip', KVER], 78, /KMOD_CONTAINER_BUILD_CONTEXT: .*no-such-dir is not a directory/],
  ['build file missing', (dir) => setKey(dir, 'KMOD_CONTAINER_BUILD_FILE', 'Containerfile.nope'), ['build', 'usbip', KVER], 78, /KMOD_CONTAINER_BUILD_FILE: .*Containerfile\.nope does not exist/],
  ['a file:// build context', (dir) => setKey(dir, 'KMOD_CONTAINER_BUILD_CONTEXT', 'file:///etc'), ['build', 'usbip', KVER], 78, /uses the URL scheme file:\/\//],
  ['a docker-image:// build context', (dir) => setKey(dir, 'KMOD_CONTAINER_BUILD_CONTEXT', 'docker-image://alpine'), ['build', 'usbip', KVER], 78, /URL scheme docker-image/],
  ['an http:// build context', (dir) => setKey(dir, 'KMOD_CONTAINER_BUILD_CONTEXT', 'http://example.org/x.git'), ['build', 'usbip', KVER], 78, /URL scheme http:\/\//],
  ['a malformed kvc.conf', (dir) => writeFileSync(join(dir, 'kvc.conf'), 'KVC_CONTAINER_RUNTIME=podman\nthis line is wrong\n'), ['status'], 78, /kvc\.conf: line 2 is not KEY=value/],
  ['an unknown runtime in kvc.conf', (dir) => writeFileSync(join(dir, 'kvc.conf'), 'KVC_CONTAINER_RUNTIME=lxc\n'), ['status'], 78, /KVC_CONTAINER_RUNTIME: must be podman or docker/],
  ['runtime not on PATH', () => ({ env: { PATH: mkdtempSync(join(tmpdir(), 'kvc-empty-')) } }), ['build', 'usbip', KVER], 69, /podman is not on PATH; install podman/],
  ['runtime failing', () => ({ env: { PATH: `${fixtureBin('#!/bin/sh\necho "Error: storage is broken" >&2\nexit 125\n')}:/usr/bin:/bin` } }), ['build', 'usbip', KVER], 70, /inspecting images failed \(podman exit 125\): Error: storage is broken/],
  ['this machine\'s own kernel (no module support, no USB)', null, ['build', 'usbip', release()], 77, /cannot take usbip's modules: it has no loadable module support/],
  ['a kernel whose config unsets an option KMOD_KERNEL_REQUIRES names', (dir) => {
    const conf = join(dir, 'usbip.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace(/^KMOD_KERNEL_REQUIRES=.*$/m, 'KMOD_KERNEL_REQUIRES="CONFIG_USB"'));
    const root = mkdtempSync(join(tmpdir(), 'kvc-root-'));
    mkdirSync(join(root, 'boot'));
    writeFileSync(join(root, 'boot', `config-${KVER}`), 'CONFIG_MODULES=y\n# CONFIG_USB is not set\n');
    return { env: { KVC_HOST_ROOT: root } };
  }, ['build', 'usbip', KVER], 77, /CONFIG_USB is not set in .*boot\/config-6/],
  ['a kernel built without module support (its config)', () => {
    const root = mkdtempSync(join(tmpdir(), 'kvc-root-'));
    mkdirSync(join(root, 'boot'));
    writeFileSync(join(root, 'boot', `config-${KVER}`), '# CONFIG_MODULES is not set\n# CONFIG_USB_SUPPORT is not set\n');
    return { env: { KVC_HOST_ROOT: root } };
  }, ['build', 'usbip', KVER], 77, /no loadable module support \(CONFIG_MODULES is not set in .*boot\/config-6/],
  ['loading for a kernel that is not running', null, ['load', 'usbip', KVER], 64, /cannot load modules for .*the running kernel is/],
  ['wrapper without a command', null, ['wrapper', 'usbip', KVER], 64, /no command given to run/],
  ['wrapper without anything to run', null, ['wrapper', 'usbip'], 64, /missing required argument 'command'/],
  ['unloading for a kernel that is not running', null, ['unload', 'usbip', KVER], 64, /cannot unload modules for .*the running kernel is/],
];

describe('integration: the bad-input matrix (one-line error, nothing changed)', function () {
  this.timeout(120000);
  let configDir;
  let runDir;
  let before;

  beforeEach(() => {
    configDir = makeConfigDir();
    runDir = mkdtempSync(join(tmpdir(), 'kvc-run-'));
    before = podmanState();
  });
  afterEach(() => {
    expect(podmanChanges(before, podmanState()), 'podman images and containers are unchanged').to.deep.equal({ imagesAdded: [], imagesGone: [], containersAdded: [] });
    // Only the instance's lock file, which stays (flock(2) on a file that is never removed).
    expect(readdirSync(runDir).filter((name) => !/^[a-z0-9_-]+\.lock$/.test(name)), 'nothing else written under the run folder').to.deep.equal([]);
    removeDir(configDir);
    removeDir(runDir);
  });

  for (const [name, setup, args, status, pattern] of CASES) {
    it(`${name}: exit ${status}`, () => {
      const { env = {} } = setup?.(configDir) ?? {};
      const result = kvc(args, { configDir, env: { KVC_RUN_DIR: runDir, ...env } });
      expect(result.status, result.stderr).to.equal(status);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines, result.stderr).to.have.length(1);
      expect(lines[0]).to.match(/^kvc: /);
      expect(lines[0]).to.match(pattern);
      expect(result.stdout).to.equal('');
      expect(result.stderr, 'no stack trace').to.not.match(/\n\s+at /);
    });
  }
});
