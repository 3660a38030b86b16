// Integration test (issue 21): `kvc load` on the real podman refuses, before anything reaches the
// kernel, an image whose modules disagree with the kernel about one symbol's CRC, naming the
// symbol, with exit 77. The kernel is Debian's 6.1 as a host root (KVC_HOST_ROOT) holds it: its
// config, an empty /proc/modules and /sys/module, and some of its own modules (test/fixtures/abi)
// in /lib/modules; the image is the usbip image kvc builds for it (built here when absent).
import { expect } from 'chai';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, IMAGE, kvc, podman, makeConfigDir, removeDir } from './harness.js';

const FIXTURES = new URL('../fixtures/abi/', import.meta.url).pathname;
const K = '6.1.0-56-amd64';

// The module's bytes with the CRC of `symbol` in __versions changed (one bit).
function alterCrc(bytes, symbol) {
  const name = Buffer.from(`${symbol}\0`);
  for (let at = bytes.indexOf(name); at >= 0; at = bytes.indexOf(name, at + 1)) {
    // A __versions entry: the 8-byte CRC, then the name, 64 bytes in all.
    if (at >= 8 && bytes.readUInt32LE(at - 4) === 0) {
      const copy = Buffer.from(bytes);
      copy.writeUInt32LE((copy.readUInt32LE(at - 8) ^ 0x10) >>> 0, at - 8);
      return copy;
    }
  }
  throw new Error(`no __versions entry for ${symbol}`);
}

// A host root for kernel K holding usbcore, usb-common and usbip-host of Debian's package.
function hostRoot(alter) {
  const root = mkdtempSync(join(tmpdir(), 'kvc-abi-root-'));
  const tree = join(root, 'lib/modules', K);
  mkdirSync(join(tree, 'kernel/drivers/usb'), { recursive: true });
  mkdirSync(join(root, 'proc'));
  mkdirSync(join(root, 'sys/module'), { recursive: true });
  mkdirSync(join(root, 'boot'));
  writeFileSync(join(root, 'proc/modules'), '');
  writeFileSync(join(root, 'boot', `config-${K}`), 'CONFIG_MODULES=y\nCONFIG_USB=m\nCONFIG_RANDSTRUCT_NONE=y\n');
  const names = ['usbcore', 'usb-common', 'usbip-host'];
  for (const name of names) copyFileSync(join(FIXTURES, `6.1-${name}.ko`), join(tree, 'kernel/drivers/usb', `${name}.ko`));
  if (alter !== undefined) {
    const path = join(tree, 'kernel/drivers/usb', `${alter.module}.ko`);
    writeFileSync(path, alterCrc(readFileSync(path), alter.symbol));
  }
  writeFileSync(join(tree, 'modules.dep'), 'kernel/drivers/usb/usb-common.ko:\nkernel/drivers/usb/usbcore.ko: kernel/drivers/usb/usb-common.ko\nkernel/drivers/usb/usbip-host.ko: kernel/drivers/usb/usbcore.ko kernel/drivers/usb/usb-common.ko\n');
  return root;
}

describe('integration: kvc load checks the modules\' ABI before the kernel sees them', function () {
  this.timeout(30 * 60 * 1000);
  let configDir;
  const roots = [];

  before(function () {
    if (KVER !== K) this.skip();
    configDir = makeConfigDir();
    if (podman(['images', '--quiet', IMAGE('1.0.0')]).trim() === '') {
      const built = kvc(['build', 'usbip', K], { configDir });
      expect(built.status, built.stderr).to.equal(0);
    }
  });
  after(() => {
    if (configDir !== undefined) removeDir(configDir);
    for (const root of roots) removeDir(root);
  });

  const load = (root) => kvc(['-v', 'load', 'usbip', K], { configDir, env: { KVC_HOST_ROOT: root, KVC_RUNNING_KERNEL: K } });

  it('one CRC of the kernel differs: refused with exit 77, the symbol named, nothing loaded', () => {
    const root = hostRoot({ module: 'usbip-host', symbol: 'usb_put_dev' });
    roots.push(root);
    const result = load(root);
    expect(result.status, result.stderr).to.equal(77);
    expect(result.stderr).to.match(/disagrees with kernel 6\.1\.0-56-amd64 about the version of symbol usb_put_dev: it was built with CRC 0x[0-9a-f]{8}, the kernel exports 0x[0-9a-f]{8} \(learned from the __versions of .*usbip-host\.ko\); nothing was loaded/);
    expect(result.stderr).to.match(/kvc build usbip 6\.1\.0-56-amd64 --force/);
    expect(result.stderr, 'no modprobe ran').to.not.match(/loading usbip-core|modprobe --all/);
  });

  // The load goes on to modprobe after the check: only on a machine whose kernel cannot load modules.
  it('the kernel\'s own CRCs: the check passes (then modprobe fails: this machine takes no modules)', function () {
    if (existsSync('/proc/modules')) this.skip();
    const root = hostRoot();
    roots.push(root);
    const result = load(root);
    expect(result.stderr).to.match(/ABI check: \d+ modules, 3 of the kernel's modules read, vermagic equal, \d+ symbol versions equal/);
    expect(result.stderr).to.not.match(/disagrees with kernel/);
  });
});
