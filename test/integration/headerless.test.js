// Integration test on the real podman of this machine (issue 21): the USB/IP image for Debian's
// 6.1 kernel built by the header-less recipe (Containerfile.debian-source: the kernel's source,
// its /boot/config and CRCs recovered from its installed modules; no linux-headers or linux-kbuild
// package) carries usbip-core, usbip-host and vhci-hcd with the same symbol CRCs, vermagic and
// dependencies as the ones the headers recipe builds. Builds both images when they are not there
// (the header-less one always: that build is the test), about 3 minutes on two cores. The
// header-less image is left for test/e2e/run.sh.
import { expect } from 'chai';
import { KVER, IMAGE, kvc, podman, makeConfigDir, moduleAbi, removeDir, usbipImage, writeSourceInstance } from './harness.js';

const MODULES = ['usbip-core', 'usbip-host', 'vhci-hcd'];
// The instance that builds with the header-less recipe: usbip.conf with that Containerfile.
const INSTANCE = 'usbip-source';
const sourceImage = usbipImage(KVER).replace('/usbip-', `/${INSTANCE}-`);

describe('integration: the header-less USB/IP recipe on a real podman', function () {
  this.timeout(40 * 60 * 1000);
  let configDir;

  before(() => {
    configDir = makeConfigDir();
    writeSourceInstance(configDir, INSTANCE);
    podman(['rmi', '--ignore', '--force', sourceImage]);
  });
  // The image stays: the kernel-update guest (test/e2e/run.sh) writes the same usbip-source.conf
  // and finds it up to date instead of building it again (about 150 s).
  after(() => {
    removeDir(configDir);
  });

  it(`kvc build ${INSTANCE} ${KVER} builds from the kernel source, with no headers package`, () => {
    const started = Date.now();
    const result = kvc(['build', INSTANCE, KVER], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    // What the image says of its build (the builder step writes it; a cached step wrote it too).
    const recipe = podman(['run', '--rm', '--network=none', sourceImage, 'cat', '/usr/lib/kvc/recipe']);
    expect(recipe).to.match(new RegExp(`^header-less recipe: ${KVER.replace(/[.+]/g, '\\$&')} from linux-source-6\\.1 \\S+, config /boot/config-\\S+ and \\d{5} symbol CRCs from the modules of linux-image-`));
    console.log(`      (header-less build: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  });

  for (const module of MODULES) {
    it(`${module}: the same CRCs, vermagic and depends as the headers-built one`, function () {
      // The headers-built image: built here when it is not there.
      if (podman(['images', '--quiet', IMAGE('1.0.0')]).trim() === '') {
        const built = kvc(['build', 'usbip', KVER], { configDir });
        expect(built.status, built.stderr).to.equal(0);
      }
      const source = moduleAbi(sourceImage, KVER, module);
      const headers = moduleAbi(IMAGE('1.0.0'), KVER, module);
      expect(source.versions.length, 'imports with CRCs').to.be.greaterThan(30);
      expect(source.versions).to.deep.equal(headers.versions);
      expect(source.vermagic).to.equal(headers.vermagic);
      expect(source.vermagic.startsWith(`${KVER} SMP preempt mod_unload modversions`)).to.equal(true);
      expect(source.depends).to.equal(headers.depends);
    });
  }
});
