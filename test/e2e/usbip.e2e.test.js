// End-to-end test: a real Debian 12 kernel without USB/IP in a QEMU guest (TCG), real systemd as
// PID 1, real D-Bus and podman in it; kvc installed from its .deb with apt (and purged at the
// end), the image built by kvc on this host. The guest prints PASS/FAIL lines on its serial console; this test asserts them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../integration/harness.js';
import { itPassedSteps, readConsole } from './console-steps.js';

// The checks both boots run, on their own kernel.
const COMMON = [
  'usbip_core, usbip_host, vhci_hcd are in /sys/module',
  '/sys/devices/platform/vhci_hcd.0 exists',
  'the tools container has no capabilities',
  'usbip is kvc\'s script, not the tool',
  'usbip list -l shows the emulated USB disk',
  'the disk is bound to usbip-host',
  'two simultaneous attaches of one device: one port in use, the other refused',
  'a later attach of the attached device is refused',
  'usbip port shows a port in use',
  'lsusb shows the disk twice (once on the vhci bus)',
  'the data read through the attached disk is the data on it',
  'the unit is inactive',
  'nothing of usbip_core, usbip_host, vhci_hcd is left in /sys/module',
  'the disk is back with its own driver (usb-storage)',
  'the journal says what was detached and unloaded',
];

// Boot 1 only: the service's life (restart, D-Bus, the shutdown inhibitor), the same on any kernel.
const BOOT1_SERVICE = [
  'after restart the unit is active and the modules are loaded',
  'a second start is harmless',
  'start with the modules already loaded by hand: active',
  'kvc status --json shows the unit active with its status text',
  'kvc disable --now stopped the unit and unloaded the modules',
  'kvc enable --now returned with the unit active and the modules loaded',
  'kvc@slow is active',
  'a build for the next boot\'s kernel holds a shutdown inhibitor with kvc\'s reason',
  'systemctl reboot (checking inhibitors) refuses, naming kvc\'s reason',
  'kvc status shows the next boot\'s kernel building and warns that it has no image',
  'stopping the service cancelled the build and released the inhibitor',
];

// Both boots, issue 21: the running kernel as if it had no headers package, through the instance
// usbip-source (Containerfile.debian-source: the kernel's source and config, CRCs recovered from its
// modules), its image built on the host (test/e2e/guest/headerless-steps.sh).
const HEADERLESS = [
  'says it was built by the header-less recipe (the kernel\'s source, its config, CRCs from its modules)',
  '... and none of usbip_core, usbip_host, vhci_hcd is loaded before kvc@usbip-source starts',
  'kvc@usbip-source (the header-less image) is active and usbip_core, usbip_host, vhci_hcd are loaded',
  '... loaded from its image without building',
  '... after kvc\'s ABI check passed: vermagic equal, the symbol versions equal',
  '... and the kernel logged nothing against them (no ABI rejection in dmesg)',
  'USB/IP with the header-less modules (usbip from kvc@usbip-source\'s tools container): bind, attach, a port in use, the 8 MiB read through vhci equal to the disk\'s',
  'systemctl stop kvc@usbip-source: the disk detached, the modules unloaded, the disk back with usb-storage',
  '... and after the stop none of them is loaded',
];

// Boot 1 only: that image with one CRC of vhci-hcd.ko changed (test/e2e/guest/usbip-badcrc),
// refused by kvc before the kernel sees it; then loaded past kvc, refused by the kernel.
const ABI_REFUSAL = [
  'kvc@usbip-badcrc failed with exit status 77 (the kernel would refuse the modules), not restarted',
  'about the version of symbol usb_hcd_giveback_urb; nothing was loaded',
  '... nothing of usbip_core, usbip_host, vhci_hcd was loaded',
  '... and the kernel logged no rejection (dmesg',
  'control, past kvc: the kernel refuses the same vhci-hcd and logs \'disagrees about version of symbol usb_hcd_giveback_urb\'',
  '... and after the control nothing of usbip_core, usbip_host, vhci_hcd is left loaded',
];

// Boot 1 only, issue 23: USB/IP through the WireGuard tunnel kvc@usbip brings up itself, the
// importer in a network namespace over a veth, tcpdump the eavesdropper (test/e2e/guest/wireguard-steps.sh).
const WIREGUARD = [
  'wg and tcpdump are in the guest',
  'kvc usbip peer add: the peer added, this host\'s public key shown',
  'kvc@usbip brought kvcwg up and says so in its journal',
  'kvc@usbip exports the disk (bound to usbip-host, usbipd listening)',
  '... with the peer imp on it (wg show kvcwg peers) and the address 10.232.0.1/24',
  '... and kvc\'s nftables table admits 3240/3241 on kvcwg from 10.232.0.2 only',
  'plain TCP from namespace kvcimp: the data read through the attached disk is the data on it',
  'the plain attach\'s capture on the veth has the USB/IP header in clear',
  'clients = imp written: the service made its table anew (the peer only) without a restart',
  'through kvc\'s WireGuard tunnel: the data read through the attached disk is the data on it',
  'reattach through kvc\'s WireGuard tunnel: the data read through the attached disk is the data on it',
  'the tunnel\'s capture on the veth: WireGuard\'s UDP only, no USB/IP header, bus id or serial in clear',
  'from 10.231.0.2 (outside the tunnel) to 10.231.0.1:3240: refused',
  'from 10.231.0.2 (outside the tunnel) to 10.231.0.1:3241: refused',
  'from 10.231.0.3 (outside the tunnel) to 10.231.0.1:3240: refused',
  'from 10.231.0.3 (outside the tunnel) to 10.231.0.1:3241: refused',
  'usbip attach from the namespace to the plain address fails',
  'from the peer 10.232.0.2 through the tunnel to 10.232.0.1:3240: connected',
  '... and to the device list on 10.232.0.1:3241: connected',
  'the kernel logged the stranger\'s refused connection',
  'attached through the tunnel',
  'clients = 10.232.0.9 written: the import from 10.232.0.2 ended, the port free, the disk gone from the vhci bus',
  '... and the journal says whose import was cut',
  'kvcwg is gone, kvc\'s nftables table too, and the journal says so',
  'no error-priority lines in the unit\'s journal since the tunnel\'s start',
];

// Boot 2 only, after the podman steps: kvc on docker (Debian's docker.io, installed with apt from
// the packages run.sh hands in) instead of podman, the image docker-loaded from the host's podman
// save archive (test/e2e/guest/docker-steps.sh).
const DOCKER = [
  'dockerd is active',
  'docker load of the host\'s podman save archive: docker has localhost/usbip-1.0.0:',
  'KVC_CONTAINER_RUNTIME=docker in /etc/kvc/kvc.conf',
  'kvc load on docker: usbip_core, usbip_host, vhci_hcd are in /sys/module',
  '... and its tools container runs under docker',
  '... with no capabilities (CapEff 0000000000000000)',
  '... and nothing was built (docker\'s images as before)',
  'usbip list -l on docker shows the emulated USB disk',
  'usbip bind on docker: the disk is bound to usbip-host',
  'usbip attach on docker: a port in use, the disk on the vhci bus',
  'usbip port on docker names the server and bus id of the port (usbip\'s record was written)',
  'on docker, the data read through the attached disk is the data on it',
  'usbip detach and unbind on docker: no port in use, the disk back with usb-storage',
  'kvc unload on docker: nothing of usbip_core, usbip_host, vhci_hcd is left',
  '... and no kvc container is left running under docker',
  'kvc@usbip on docker: active, the modules loaded',
  '... its tools container under docker',
  `... loaded ${process.env.UPDATE_KVER ?? '6.12.117+deb12-amd64'}'s image without building it`,
  'systemctl stop kvc@usbip on docker: inactive, nothing of usbip_core, usbip_host, vhci_hcd left',
  '... no error-priority lines in the unit\'s journal on docker',
];

// Boot 1 (6.1) starts the service itself and ends with the kernel update; boot 2 (6.12, the same
// disk) finds the service started at boot.
const BOOTS = [
  {
    kver: process.env.KVER ?? '6.1.0-56-amd64',
    steps: ['kvc installed by its .deb: kvc --version runs from /usr/bin', '... with its kernel hooks', '... and nothing under /usr/local',
      'AppArmor is on, with its parser', 'image loaded from podman save', 'unit kvc@usbip is active', ...COMMON,
      // A host with AppArmor: kvc's own profile for the tools (the runtime's default one denies every write under /sys).
      'AppArmor: the tools container runs under kvc\'s profile kvc-usbip, not the runtime\'s',
      'attack: from the tools container, /sys/power/state cannot be opened for writing',
      '... nor /sys/module/usbcore/parameters/autosuspend, while vhci_hcd.0/attach can',
      ...BOOT1_SERVICE, ...HEADERLESS, ...ABI_REFUSAL, ...WIREGUARD,
      'kvc saw the new kernel', '... built nothing for it, and kvc status shows it as the next boot\'s kernel with its image',
      '... and no warning about the next boot',
      'the kernel package ran kvc\'s hook (/etc/kernel/postinst.d/kvc): the journal has its notice', '... and kvc@usbip planned again on that reload'],
  },
  {
    kver: process.env.UPDATE_KVER ?? '6.12.117+deb12-amd64',
    steps: ['kvc@usbip started at boot into the updated kernel, loading its image without building', ...COMMON,
      'no AppArmor on this boot (apparmor=0): kvc gives the tools container no profile', ...HEADERLESS,
      'without xz-utils, kvc@usbip\'s ABI check said it could not read the kernel\'s .ko.xz modules', ...DOCKER,
      'kvc kube daemonset printed a DaemonSet whose pod template runs the image of',
      'the pod\'s init container loaded usbip_core, usbip_host, vhci_hcd',
      'the pod is not privileged: CAP_SYS_MODULE only where modules are unloaded, no capability for the tools',
      'usbip from the pod\'s tools container: bind, attach, a port in use, the disk on the vhci bus',
      'podman kube down: the pod detached the disk and unloaded the modules',
      'purged: the unit stopped, the modules unloaded, kvc gone', '... and what is left of it is the user\'s own instance files in /etc/kvc, nothing else',
      '... and it removed nothing that was there before it',
      'systemd-sysext merge: kvc --version runs from the extension', '... and kvc is gone again after systemd-sysext unmerge'],
  },
];

describe('end-to-end: USB/IP in a QEMU guest whose kernels lack it, across a kernel update', function () {
  this.timeout(90 * 60 * 1000);
  // KVC_E2E_PREFIX: the console logs' prefix (run.sh's second argument), for a run beside CI's.
  const prefix = process.env.KVC_E2E_PREFIX ?? '/var/tmp/kvc-e2e-test';
  let status;

  before(() => {
    const started = Date.now();
    const result = spawnSync('test/e2e/run.sh', ['test', prefix], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    process.stdout.write(`      (guest, images and both boots took ${Math.round((Date.now() - started) / 1000)} s)\n`);
    status = result.status;
  });

  for (const [n, boot] of BOOTS.entries()) {
    describe(`boot ${n + 1}: kernel ${boot.kver}`, () => {
      let console = '';
      before(() => {
        console = readConsole(`${prefix}-${boot.kver}.log`);
      });

      it(`the guest runs ${boot.kver} and its tree has no USB/IP modules`, () => {
        expect(console).to.match(new RegExp(`KVC-E2E: ---- guest kernel ${boot.kver.replace(/[.+]/g, '\\$&')}; USB/IP modules in its tree: 0;`));
      });

      itPassedSteps(() => console, boot.steps);
    });
  }

  it('both boots passed (run.sh exited 0)', () => {
    expect(status).to.equal(0);
  });
});
