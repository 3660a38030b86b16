// Integration test: the usbip instance builds for both of Debian 12's kernel series, from the
// source of each kernel's exact version, with the real kvc CLI and the real podman.
// - 6.1.0-50-amd64 is 6.1.176: built from linux-source-6.1 6.1.176-1, not from the newest 6.1
//   source (6.1.192's usbip_common.c uses sk_use_task_frag, which 6.1.176 lacks).
// - 6.12.117+deb12-amd64 compresses its in-tree modules (.ko.xz): usbcore comes from its package
//   as usbcore.ko.xz and modprobe in the image resolves vhci-hcd's dependencies through it.
import { expect } from 'chai';
import { KVER, kvc, podman, makeConfigDir, removeDir } from './harness.js';

const KERNELS = ['6.1.0-50-amd64', '6.12.117+deb12-amd64'];
const imageOf = (kver) => `localhost/usbip-1.0.0:${kver.replace('+', '_')}`;

describe('integration: the usbip image for two kernel series and an older 6.1', function () {
  this.timeout(40 * 60 * 1000);
  let configDir;

  before(() => {
    configDir = makeConfigDir();
    for (const kver of KERNELS) podman(['rmi', '--ignore', '--force', imageOf(kver)]);
  });
  after(() => {
    removeDir(configDir);
    for (const kver of KERNELS) if (kver !== KVER) podman(['rmi', '--ignore', '--force', imageOf(kver)]);
  });

  for (const kver of KERNELS) {
    it(`kvc build usbip ${kver}: built from the source of that exact kernel, each module's vermagic is ${kver}`, () => {
      const started = Date.now();
      const result = kvc(['build', 'usbip', kver], { configDir, timeout: 20 * 60 * 1000 });
      expect(result.status, result.stderr).to.equal(0);
      console.log(`      (built in ${Math.round((Date.now() - started) / 1000)} s)`);
      const headers = podman(['run', '--rm', '--network=none', imageOf(kver), 'modinfo', '-k', kver, '-F', 'vermagic', 'usbip-core', 'usbip-host', 'vhci-hcd']).trim().split('\n');
      expect(headers.map((line) => line.split(/\s+/)[0])).to.deep.equal([kver, kver, kver]);
      const deps = podman(['run', '--rm', '--network=none', imageOf(kver), 'modprobe', '-S', kver, '--show-depends', 'vhci-hcd']);
      expect(deps).to.match(/usbcore\.ko(\.xz)?/);
      expect(deps).to.match(/vhci-hcd\.ko/);
    });
  }

  it('6.12 keeps its compressed in-tree modules as they come (usbcore.ko.xz)', () => {
    const listing = podman(['run', '--rm', '--network=none', imageOf('6.12.117+deb12-amd64'), 'find', '/lib/modules/6.12.117+deb12-amd64', '-name', 'usbcore.ko*']);
    expect(listing.trim()).to.match(/usbcore\.ko\.xz$/);
  });
});
