// End-to-end test (issue 20): the user's path from no key to loaded, signed USB/IP modules, on
// Debian's signed 6.1 kernel booted under UEFI Secure Boot in a QEMU guest (TCG; OVMF with
// Microsoft's keys, shim, Debian's signed GRUB), locked down, as on an Azure Trusted Launch VM.
// Boot 1: no key; kvc key create; kvc refuses, before touching the kernel, an unsigned image and
// one signed with a key the kernel does not trust, each in its own words; kvc key enroll queues
// the key. Boot 2: shim's MokManager, driven over the serial console with the one-time password.
// Then the host builds the image signed with the key the guest made (standing in for the host's
// own build: the guest cannot build). Boot 3: the kernel trusts the key; systemctl start
// kvc@usbipsb loads the signed modules without a build, the USB/IP round trip works, stop unloads.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../integration/harness.js';
import { itPassedSteps, readConsole } from './console-steps.js';

const STEPS = [
  'the firmware booted with Secure Boot on (EFI SecureBoot variable: 1)',
  'the kernel is locked down',
  'images loaded from podman save',
  'no key at first: no /var/lib/kvc/keys, and kvc key status says none yet and to run kvc key create, then kvc key enroll',
  'kvc key create made kvc\'s own key in /var/lib/kvc/keys, root\'s only',
  'kvc key status: Secure Boot on, unsigned modules refused, kvc\'s key not trusted by this kernel',
  'kvc check fails the signing key: the running kernel does not trust it',
  'kvc load of the unsigned image is refused (77) before loading anything, saying the modules are not signed and the kernel is locked down',
  'kvc load of the image signed with a key the kernel does not trust (made on the host, not enrolled) is refused (77), naming the key',
  'nothing was loaded: no usbip_core, usbip_host, vhci_hcd in /sys/module',
  'the kernel logged no module signature rejection (kvc refused first)',
  'mokutil and keyctl are installed (from the payload: Debian\'s packages)',
  'man kvc, man 5 kvc.conf and man 5 kvc-devices show kvc\'s pages (installed by make install)',
  'kvc key enroll queued the key with a one-time password and named MokManager\'s steps',
  'kvc key status: waiting for MokManager at the next boot',
];

const ENROLLED = [
  'kvc key status: the kernel trusts kvc\'s key now, and it is in the MOK list',
  'kvc check: the signing key is trusted',
  'the usbipsb image built on the host is signed with the key this guest made',
  'kvc@usbipsb is active, its signed modules loaded under lockdown: usbip_core, usbip_host, vhci_hcd',
  'the service found the image up to date (same signer): no build',
  'the kernel took the signature (no rejection, not tainted by an unsigned module)',
  'vhci_hcd is there: /sys/devices/platform/vhci_hcd.0',
  'usbip list -l shows the emulated USB disk',
  'usbip bind: the disk is bound to usbip-host',
  'usbip attach: a port in use, the disk on the vhci bus',
  'the data read through the attached disk is the data on it',
  'usbip detach',
  'systemctl stop kvc@usbipsb: inactive, usbip_core, usbip_host, vhci_hcd unloaded',
  'no error-priority lines in the unit\'s journal',
  'kvc load of modules signed with a key that is not kvc\'s is refused (77), naming the key; nothing loaded',
  'after the refusal: no usbip module loaded, and the kernel logged no rejection',
];

describe('end-to-end: a Secure Boot guest, locked down, refuses what kvc refuses first', function () {
  this.timeout(60 * 60 * 1000);
  // KVC_E2E_SB_PREFIX: the logs' prefix of a run of one's own (others may run the default at once).
  const prefix = process.env.KVC_E2E_SB_PREFIX ?? '/var/tmp/kvc-e2e-secureboot-test';
  let status;

  before(() => {
    const started = Date.now();
    const result = spawnSync('test/e2e/run-secureboot.sh', [prefix], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    process.stdout.write(`      (key, images and the three boots took ${Math.round((Date.now() - started) / 1000)} s)\n`);
    status = result.status;
  });

  describe('boot 1: locked down, kvc refuses first, then queues its key', () => {
    itPassedSteps(() => readConsole(`${prefix}-secureboot.log`), STEPS);
  });

  describe('boot 3: after MokManager enrolled the key', () => {
    itPassedSteps(() => readConsole(`${prefix}-secureboot-enrolled.log`), ENROLLED);
  });

  it('the guest reported no failure (run-secureboot.sh exited 0)', () => {
    expect(status).to.equal(0);
  });
});
