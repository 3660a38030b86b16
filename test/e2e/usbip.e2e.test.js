// End-to-end test: a real Debian 12 kernel without USB/IP in a QEMU guest (TCG), real systemd as
// PID 1, real D-Bus and podman in it; kvc installed by `make install`, the image built by kvc on
// this host. The guest prints PASS/FAIL lines on its serial console; this test asserts them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ROOT } from '../integration/harness.js';

const STEPS = [
  'image loaded from podman save',
  'unit kvc@usbip is active',
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

describe('end-to-end: USB/IP in a QEMU guest whose kernel lacks it', function () {
  this.timeout(60 * 60 * 1000);
  let console;
  let status;

  before(() => {
    const log = '/var/tmp/kvc-e2e-test.log';
    const result = spawnSync('test/e2e/run.sh', ['test', log], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    status = result.status;
    console = readFileSync(log, 'utf8').replaceAll('\r', '');
  });

  for (const step of STEPS) {
    it(step, () => {
      const line = console.split('\n').find((l) => l.startsWith('KVC-E2E: ') && l.includes(step));
      expect(line, `no line for "${step}" on the guest's console`).to.be.a('string');
      expect(line).to.match(/^KVC-E2E: PASS /);
    });
  }

  it('the guest reported no failure and finished', () => {
    expect(console).to.not.match(/^KVC-E2E: FAIL/m);
    expect(console).to.match(/^KVC-E2E: DONE pass=\d+ fail=0$/m);
    expect(status).to.equal(0);
  });
});
