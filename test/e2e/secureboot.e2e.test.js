// End-to-end test (issue 20): Debian's signed 6.1 kernel booted under UEFI Secure Boot in a QEMU
// guest (TCG; OVMF with Microsoft's keys, shim, Debian's signed GRUB), locked down, as on an
// Azure Trusted Launch VM. kvc must refuse, before touching the kernel, an unsigned image and an
// image signed with its own key that the kernel does not trust yet, each in its own words.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../integration/harness.js';
import { itPassedSteps, readConsole } from './console-steps.js';

const STEPS = [
  'the firmware booted with Secure Boot on (EFI SecureBoot variable: 1)',
  'the kernel is locked down',
  'images loaded from podman save',
  'kvc key status: Secure Boot on, unsigned modules refused, kvc\'s key not trusted by this kernel',
  'kvc load of the unsigned image is refused (77) before loading anything, saying the modules are not signed and the kernel is locked down',
  'kvc load of the image signed with a key the kernel does not trust is refused (77): the key is not enrolled, run kvc key enroll and reboot',
  'nothing was loaded: no usbip_core, usbip_host, vhci_hcd in /sys/module',
  'the kernel logged no module signature rejection (kvc refused first)',
];

describe('end-to-end: a Secure Boot guest, locked down, refuses what kvc refuses first', function () {
  this.timeout(60 * 60 * 1000);
  const prefix = '/var/tmp/kvc-e2e-secureboot-test';
  let status;
  let console = '';

  before(() => {
    const started = Date.now();
    const result = spawnSync('test/e2e/run-secureboot.sh', [prefix], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    process.stdout.write(`      (key, images and the Secure Boot guest took ${Math.round((Date.now() - started) / 1000)} s)\n`);
    status = result.status;
    console = readConsole(`${prefix}-secureboot.log`);
  });

  itPassedSteps(() => console, STEPS);

  it('the guest reported no failure (run-secureboot.sh exited 0)', () => {
    expect(status).to.equal(0);
  });
});
