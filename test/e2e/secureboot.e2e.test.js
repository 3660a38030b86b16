// End-to-end test (issue 20): Debian's signed 6.1 kernel booted under UEFI Secure Boot in a QEMU
// guest (TCG; OVMF with Microsoft's keys, shim, Debian's signed GRUB), locked down, as on an
// Azure Trusted Launch VM. Boot 1: kvc refuses, before touching the kernel, an unsigned image and
// an image signed with its own key that the kernel does not trust yet, each in its own words, then
// queues its key (kvc key enroll). Boot 2: shim's MokManager, driven over the serial console with
// the one-time password. Boot 3: the kernel trusts the key and kvc loads the signed modules.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../integration/harness.js';
import { itPassedSteps, readConsole } from './console-steps.js';

const STEPS = [
  'the firmware booted with Secure Boot on (EFI SecureBoot variable: 1)',
  'the kernel is locked down',
  'images loaded from podman save',
  'kvc key status: Secure Boot on, unsigned modules refused, kvc\'s key not trusted by this kernel',
  'kvc check fails the signing key: the running kernel does not trust it',
  'kvc load of the unsigned image is refused (77) before loading anything, saying the modules are not signed and the kernel is locked down',
  'kvc load of the image signed with a key the kernel does not trust is refused (77): the key is not enrolled, run kvc key enroll and reboot',
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
  'kvc load of the signed image succeeds under lockdown: usbip_core, usbip_host, vhci_hcd loaded',
  'the kernel took the signature (no rejection, not tainted by an unsigned module)',
  'vhci_hcd is there: /sys/devices/platform/vhci_hcd.0',
  'kvc unload took them out again',
  'kvc load of modules signed with a key that is not kvc\'s is refused (77), naming the key; nothing loaded',
  'after the refusal: no usbip module loaded, and the kernel logged no rejection',
];

describe('end-to-end: a Secure Boot guest, locked down, refuses what kvc refuses first', function () {
  this.timeout(60 * 60 * 1000);
  const prefix = '/var/tmp/kvc-e2e-secureboot-test';
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
