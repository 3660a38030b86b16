// Integration test on the real podman of this machine (issue 21): Debian's 6.12 CLOUD kernel, which
// has no USB at all (`# CONFIG_USB_SUPPORT is not set`), built by the header-less recipe
// (Containerfile.debian-source: linux-source-6.12 of its exact version, /boot/config of its
// linux-image package, no linux-headers or linux-kbuild package). The recipe builds what the
// headers recipe builds for such a kernel: the USB core (usb-common, usbcore), usbip-core,
// usbip-host, vhci-hcd, usb-storage and uas, in one pass. The CRCs of the kernel's own symbols come
// from the kernel: the __versions of its installed modules, and its exported-symbol tables (the
// __ksymtab/__kcrctab of the vmlinux in the package's vmlinuz, the __crc_ symbols of its modules),
// since 36 of the symbols usbcore and usb-storage import (yield, pm_wq, scsi_done_direct…) are
// imported by none of the cloud kernel's 1,138 modules. The CRCs between the modules kvc builds come
// from this build itself. Every module carries the same `modprobe --dump-modversions`, vermagic and
// depends as the headers-built one; the image says the same of what it adds and loads.
// The header-less build takes about 4 to 6 minutes on two cores; the headers-built image is the one
// test/integration/kmm-layout.test.js builds (built here when it is not there).
import { expect } from 'chai';
import { kvc, podman, makeConfigDir, moduleAbi, removeDir, usbipImage, writeSourceInstance } from './harness.js';

const KVER = process.env.KVC_TEST_CLOUD612_KVER ?? '6.12.117+deb12-cloud-amd64';
const MODULES = ['usb-common', 'usbcore', 'usbip-core', 'usbip-host', 'vhci-hcd', 'usb-storage', 'uas'];
const INSTANCE = 'usbip-source';
const sourceImage = usbipImage(KVER).replace('/usbip-', `/${INSTANCE}-`);
const headersImage = usbipImage(KVER);

describe('integration: the header-less recipe for a cloud kernel without USB (real podman)', function () {
  this.timeout(40 * 60 * 1000);
  let configDir;

  before(() => {
    configDir = makeConfigDir();
    writeSourceInstance(configDir, INSTANCE);
    podman(['rmi', '--ignore', '--force', sourceImage]);
  });
  // The image stays, for a guest proof that boots this kernel (docs/kernels-without-headers.md).
  after(() => removeDir(configDir));

  it(`kvc build ${INSTANCE} ${KVER} builds the USB core and USB/IP from the kernel source, with no headers package`, () => {
    const started = Date.now();
    const result = kvc(['build', INSTANCE, KVER], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    const recipe = podman(['run', '--rm', '--network=none', sourceImage, 'cat', '/usr/lib/kvc/recipe']);
    expect(recipe).to.match(new RegExp(`^header-less recipe: ${KVER.replace(/[.+]/g, '\\$&')} from linux-source-6\\.12 \\S+, config /boot/config-\\S+ and \\d{5} symbol CRCs from the modules of linux-image-\\S+ \\S+ \\(their __versions and exported-symbol tables, and those of its vmlinux\\)`));
    console.log(`      (header-less build of the cloud kernel: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  });

  it('the image says what it adds to the kernel and what kvc loads besides, as the headers-built one does', function () {
    if (podman(['images', '--quiet', headersImage]).trim() === '') {
      const built = kvc(['build', 'usbip', KVER], { configDir });
      expect(built.status, built.stderr).to.equal(0);
    }
    const said = (image) => podman(['run', '--rm', '--network=none', image, 'sh', '-c', 'ls /opt/lib/modules/*/extra; cat /usr/lib/kvc/provides /usr/lib/kvc/load-also']);
    expect(said(sourceImage)).to.equal(said(headersImage));
  });

  for (const module of MODULES) {
    it(`${module}: the same CRCs, vermagic and depends as the headers-built one`, () => {
      const source = moduleAbi(sourceImage, KVER, module);
      const headers = moduleAbi(headersImage, KVER, module);
      expect(source.versions.length, 'imports with CRCs').to.be.greaterThan(5);
      expect(source.versions).to.deep.equal(headers.versions);
      expect(source.vermagic).to.equal(headers.vermagic);
      expect(source.vermagic.startsWith(`${KVER} SMP preempt mod_unload modversions`)).to.equal(true);
      expect(source.depends).to.equal(headers.depends);
    });
  }
});
