// End-to-end test, as USB/IP is deployed: a client on Debian's cloud kernel (no USB support at
// all) imports a disk from a server on Debian's generic kernel, two QEMU guests (TCG) with real
// systemd, D-Bus and podman, linked only to each other. kvc on the client builds and loads the USB
// core as well. Then the client boots with module.sig_enforce=1 and kvc must refuse first. The
// guests print PASS/FAIL lines on their serial consoles; this test asserts them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { ROOT } from '../integration/harness.js';
import { itPassedSteps, readConsole } from './console-steps.js';

const BOOTS = [
  {
    name: 'server',
    steps: [
      'server: the link is up',
      'server: kvc@usbip loaded usbip_core, usbip_host, vhci_hcd',
      'server: the disk (',
      'server: the client imported the disk',
      'server: the client released it',
      'server: stopped and unloaded',
    ],
  },
  {
    name: 'client',
    steps: [
      'client: the kernel has no USB at all',
      'client: image loaded from podman save',
      'client: the link is up',
      'client: kvc@usbip is active with the USB core, USB/IP and storage drivers loaded',
      'client: /sys/devices/platform/vhci_hcd.0 exists',
      'client: kvc status says kvc provides the USB core for this kernel',
      'client: usbip list -r',
      'client: the disk appeared on the vhci bus',
      'client: the data read through USB/IP is the data on the server\'s disk',
      'client: stop detached the disk and unloaded everything kvc loaded, usbcore included',
    ],
  },
  {
    name: 'client-sig-enforce',
    steps: [
      'kvc@usbip (enabled) failed at boot, saying the kernel refuses unsigned modules, and is not retried',
      'kvc load refuses with one line naming sig_enforce and what to do',
      'nothing was loaded',
    ],
  },
];

describe('end-to-end: a cloud-kernel client without USB imports a disk from a server over USB/IP', function () {
  this.timeout(90 * 60 * 1000);
  const prefix = '/var/tmp/kvc-e2e-pair-test';
  let status;

  before(() => {
    const started = Date.now();
    const result = spawnSync('test/e2e/run-pair.sh', ['test', prefix], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    process.stdout.write(`      (guests, images and three boots took ${Math.round((Date.now() - started) / 1000)} s)\n`);
    status = result.status;
    // The benchmark (docs/benchmarks.md): the disk read through USB/IP on the client against the
    // same disk read natively on the server, in this run.
    const figure = (name, pattern) => {
      const match = pattern.exec(readConsole(`${prefix}-${name}.log`));
      return match === null ? undefined : Number(match[1]);
    };
    const native = figure('server', /bench: native read of 8 MiB from \S+: (\d+) ms/);
    const remote = figure('client', /bench: read of 8 MiB through USB\/IP from \S+: (\d+) ms/);
    if (native !== undefined && remote !== undefined) {
      process.stdout.write(`      (8 MiB read: ${native} ms natively on the server, ${remote} ms through USB/IP on the client: throughput ${(native / remote).toFixed(2)} x native)\n`);
    }
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

  it('every boot passed (run-pair.sh exited 0)', () => {
    expect(status).to.equal(0);
  });
});
