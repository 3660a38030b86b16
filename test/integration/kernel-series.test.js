// Integration test: the usbip instance builds for both of Debian 12's kernel series, from the
// source of each kernel's exact version, with the real kvc CLI and the real podman.
// - 6.1.0-50-amd64 is 6.1.176: built from linux-source-6.1 6.1.176-1, not from the newest 6.1
//   source (6.1.192's usbip_common.c uses sk_use_task_frag, which 6.1.176 lacks).
// - 6.12.117+deb12-amd64 compresses its in-tree modules (.ko.xz). The image ships none of the
//   kernel's own modules (usbcore is the host's, loaded from its tree): only what it built.
import { expect } from 'chai';
import { kvc, podman, makeConfigDir, removeDir, usbipImage as imageOf } from './harness.js';

const KERNELS = ['6.1.0-50-amd64', '6.12.117+deb12-amd64'];

describe('integration: the usbip image for two kernel series and an older 6.1', function () {
  this.timeout(40 * 60 * 1000);
  let configDir;

  before(() => {
    configDir = makeConfigDir();
    for (const kver of KERNELS) podman(['rmi', '--ignore', '--force', imageOf(kver)]);
  });
  // The images stay: the kernel-update guest (test/e2e/run.sh) boots both series with them.
  after(() => removeDir(configDir));

  for (const kver of KERNELS) {
    it(`kvc build usbip ${kver}: built from the source of that exact kernel, each module's vermagic is ${kver}`, () => {
      const started = Date.now();
      const result = kvc(['build', 'usbip', kver], { configDir, timeout: 20 * 60 * 1000 });
      expect(result.status, result.stderr).to.equal(0);
      console.log(`      (built in ${Math.round((Date.now() - started) / 1000)} s)`);
      const headers = podman(['run', '--rm', '--network=none', imageOf(kver), 'modinfo', '-k', kver, '-F', 'vermagic', 'usbip-core', 'usbip-host', 'vhci-hcd']).trim().split('\n');
      expect(headers.map((line) => line.split(/\s+/)[0])).to.deep.equal([kver, kver, kver]);
      const deps = podman(['run', '--rm', '--network=none', imageOf(kver), 'modprobe', '-S', kver, '--show-depends', 'vhci-hcd']);
      expect(deps).to.match(/usbip-core\.ko/);
      expect(deps).to.match(/vhci-hcd\.ko/);
      // usbcore is a dependency the image leaves to the host kernel's own tree.
      expect(podman(['run', '--rm', '--network=none', imageOf(kver), 'modinfo', '-k', kver, '-F', 'depends', 'vhci-hcd']).trim().split(',')).to.include('usbcore');
    });
  }

  for (const kver of KERNELS) {
    it(`${kver}: the image holds only the modules it built, none of the kernel's own (no usbcore, compressed or not)`, () => {
      const listing = podman(['run', '--rm', '--network=none', imageOf(kver), 'find', '-L', `/lib/modules/${kver}`, '-name', '*.ko*']);
      expect(listing.trim().split('\n').map((path) => path.replace(/^.*\//, '')).sort()).to.deep.equal(['usbip-core.ko', 'usbip-host.ko', 'usbip-vudc.ko', 'vhci-hcd.ko']);
    });
  }
});
