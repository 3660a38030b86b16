// End-to-end test of issue 21's header-less recipe on a kernel with no USB at all: Debian's 6.12
// cloud kernel in a QEMU guest (TCG, no USB controller) loads the image of instance usbip-source,
// which kvc built from the kernel's source and config with no headers package, and imports a USB
// disk over USB/IP from a second guest: a plain Debian server (its own usbip-host, Debian's usbipd,
// no kvc), through the WireGuard tunnel the client's service brings up (issue 23's importing side;
// the server's end made by hand). The image is the one test/integration/headerless-cloud.test.js built and left in this
// host's podman (run-headerless-cloud.sh's `kvc build` finds it up to date). The guests print
// PASS/FAIL lines on their serial consoles; this test asserts them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../integration/harness.js';
import { itPassedSteps, readConsole } from './console-steps.js';

const BOOTS = [
  {
    name: 'server',
    steps: [
      'server: the link is up',
      'server: modprobe usbip-host (Debian\'s own module)',
      'server: wg0 up at 10.232.0.1 with the client\'s key as its one peer',
      'server: usbipd listens, the disk',
      'server: the client imported the disk',
      'server: ... through the tunnel: the connection on 3240 comes from 10.232.0.2 (wg0), and wg0 had a handshake',
      'server: the client gave it back',
    ],
  },
  {
    name: 'client',
    steps: [
      'the kernel has no USB',
      'kvc installed from its .deb',
      'the usbip-source image loaded from podman save',
      'the link to the server is up',
      'the image says the header-less recipe built it',
      'kvc@usbip-source is active and the kernel has usb_common usbcore usbip_core usbip_host vhci_hcd usb_storage uas loaded',
      '... after kvc\'s ABI check passed',
      'kvc usbip peer add: the server added, with this host\'s public key',
      '... loaded from the image without building',
      '... and the kernel logged nothing against them (no ABI rejection in dmesg)',
      'the service attached the server\'s disk by itself',
      'kvc status says the import is attached',
      '... and shows the tunnel the service brought up (kvcwg 10.232.0.2/24) and its peer',
      'kvcwg was made by the service: the server its peer, a handshake done, the journal says so',
      'on the link, the import and the read were WireGuard\'s UDP only',
      'the data read through USB/IP from',
      'usbip port (the instance\'s tools container) shows the import on a vhci port',
      'the stop detached the disk and unloaded them all',
      '... and took kvcwg down',
      '... and the kernel logged nothing against them',
    ],
  },
];

describe('end-to-end: the header-less image on a cloud kernel without USB imports a disk over USB/IP', function () {
  this.timeout(60 * 60 * 1000);
  // Another prefix (KVC_E2E_HEADERLESS_PREFIX) keeps a developer's run apart from CI's.
  const prefix = process.env.KVC_E2E_HEADERLESS_PREFIX ?? '/var/tmp/kvc-e2e-headerless-cloud';
  let status;

  before(() => {
    const started = Date.now();
    const result = spawnSync('test/e2e/run-headerless-cloud.sh', [prefix], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    process.stdout.write(`      (image, guests and the two boots took ${Math.round((Date.now() - started) / 1000)} s)\n`);
    status = result.status;
  });

  for (const boot of BOOTS) {
    describe(boot.name, () => {
      let console = '';
      before(() => {
        console = readConsole(`${prefix}-${boot.name}.log`);
      });

      itPassedSteps(() => console, boot.steps);
    });
  }

  it('both guests passed (run-headerless-cloud.sh exited 0)', () => {
    expect(status).to.equal(0);
  });
});
