// Integration tests on the real podman: the USB/IP images (a generic and two cloud Debian kernels)
// hold one copy of their modules, under /opt/lib/modules/<kver> as Kubernetes' Kernel Module
// Management loads them and at /lib/modules/<kver> (a link) as kvc does. Checked the way KMM's
// worker works: its init container copies <dirName>/lib/modules/<kver> out with `cp -R`, then
// `modprobe -d <copy>` loads; here `-n --show-depends` resolves each module without loading.
import { expect } from 'chai';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { KVER, kvc, podman, makeConfigDir, removeDir, usbipImage as image } from './harness.js';

// Both cloud series: 6.12's USB core reads Kconfig values 6.1's does not (the build passes them).
const KERNELS = [KVER, process.env.KVC_TEST_CLOUD_KVER ?? '6.1.0-56-cloud-amd64', '6.12.117+deb12-cloud-amd64'];

describe('integration: images KMM can load (real podman)', function () {
  this.timeout(30 * 60 * 1000);
  // The cloud images are built with the build args the USB/IP pair's client uses
  // (test/e2e/run-pair.sh, CLIENT_BUILD_ARGS), so that each run of make test builds them once:
  // built here with other args, the pair would rebuild both, and this test again next run.
  let genericConfig, cloudConfig;
  const configFor = (kver) => (kver.includes('-cloud-') ? cloudConfig : genericConfig);
  before(() => {
    genericConfig = makeConfigDir();
    cloudConfig = makeConfigDir();
    appendFileSync(join(cloudConfig, 'usbip.conf'), 'KVC_BUILD_ARGS="USBIP_VHCI_NR_HCS=16 USBIP_VHCI_HC_PORTS=1"\n');
  });
  after(() => {
    removeDir(genericConfig);
    removeDir(cloudConfig);
  });

  for (const kver of KERNELS) {
    const cloud = kver.includes('-cloud-');
    const configDir = () => configFor(kver);
    it(`${kver}: kvc build makes the image (or finds it up to date)`, () => {
      const result = kvc(['build', 'usbip', kver], { configDir: configDir() });
      expect(result.status, result.stderr).to.equal(0);
    });

    it(`${kver}: one tree, /lib/modules/${kver} a link to /opt/lib/modules/${kver}, depmod run for /opt`, () => {
      const out = podman(['run', '--rm', '--network=none', image(kver), 'sh', '-c', `readlink /lib/modules/${kver}; ls /opt/lib/modules/${kver}/extra; test -s /opt/lib/modules/${kver}/modules.dep && echo dep-ok; for t in sh mkdir cp modprobe; do command -v $t; done`]);
      const lines = out.trim().split('\n');
      expect(lines[0]).to.equal(`/opt/lib/modules/${kver}`);
      expect(out).to.contain('dep-ok');
      for (const tool of ['sh', 'mkdir', 'cp', 'modprobe']) expect(out).to.match(new RegExp(`/${tool}$`, 'm'));
      const modules = lines.filter((line) => line.endsWith('.ko')).sort();
      // The image ships no module the kernel has: usbcore only where the kernel has no USB.
      expect(modules).to.deep.equal(cloud
        ? ['uas.ko', 'usb-common.ko', 'usb-storage.ko', 'usbcore.ko', 'usbip-core.ko', 'usbip-host.ko', 'vhci-hcd.ko']
        : ['usbip-core.ko', 'usbip-host.ko', 'usbip-vudc.ko', 'vhci-hcd.ko']);
    });

    it(`${kver}: copied out as KMM's init container does, modprobe -d resolves every module from the copy`, () => {
      const script = [
        'set -e', 'mkdir -p /tmp/opt/lib/modules', `cp -R /opt/lib/modules/${kver} /tmp/opt/lib/modules/`,
        `test ! -L /tmp/opt/lib/modules/${kver}`,
        `for m in /tmp/opt/lib/modules/${kver}/extra/*.ko; do n=$(basename "$m" .ko); echo "== $n"; modprobe -d /tmp/opt -S ${kver} -n --show-depends "$n"; done`,
      ].join('\n');
      const out = podman(['run', '--rm', '--network=none', image(kver), 'sh', '-c', script]);
      const sections = out.split('== ').filter((part) => part !== '');
      expect(sections.length).to.equal(cloud ? 7 : 4);
      for (const section of sections) {
        const [name, ...lines] = section.trim().split('\n');
        expect(lines.at(-1), name).to.equal(`insmod /tmp/opt/lib/modules/${kver}/extra/${name}.ko`);
        for (const line of lines) expect(line).to.match(new RegExp(`^insmod /tmp/opt/lib/modules/${kver.replaceAll('+', '\\+')}/extra/\\S+\\.ko\\s*$`));
      }
      // On the cloud kernel vhci-hcd pulls in the image's own USB core, before it.
      if (cloud) expect(sections.find((s) => s.startsWith('vhci-hcd')).trim().split('\n').slice(1).map((l) => l.split('/').pop().trim()).sort()).to.deep.equal(['usb-common.ko', 'usbcore.ko', 'usbip-core.ko', 'vhci-hcd.ko']);
    });

    it(`${kver}: the image says what it adds to the kernel and what kvc loads besides KMOD_NAMES`, () => {
      const result = kvc(['status', 'usbip', '--json'], { configDir: configDir(), env: { KVC_RUNNING_KERNEL: kver } });
      expect(result.status, result.stderr).to.equal(0);
      const kernel = JSON.parse(result.stdout).instances[0].kernels.kernels.find((k) => k.kver === kver);
      expect(kernel.provides).to.deep.equal(cloud ? ['usb-common', 'usbcore', 'usb-storage', 'uas'] : []);
      const also = podman(['run', '--rm', '--network=none', image(kver), 'sh', '-c', 'cat /usr/lib/kvc/load-also 2>/dev/null | grep -v "^#" || true']).trim();
      expect(also.split('\n').filter((l) => l !== '')).to.deep.equal(cloud ? ['usb-storage', 'uas', 'sd_mod'] : []);
    });
  }
});
