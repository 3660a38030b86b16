// End-to-end test, as USB/IP is deployed: a client on Debian's cloud kernel (no USB support at
// all) imports two disks of one VID:PID, by serial, from a server on Debian's generic kernel, one
// for each of two containers, keeps them through a replug and refuses a second attach. Two QEMU
// guests (TCG) with real systemd, D-Bus and podman, linked only to each other. kvc on the client loads the USB
// core as well. The server is also a fleet's builder (issue 22): Debian's docker-registry, a GPG key,
// kvc publish for two kernels; the client gets its image only by a verified pull, and refuses a tampered one. Then the client boots with module.sig_enforce=1 and kvc must refuse first. The
// guests print PASS/FAIL lines on their serial consoles; this test asserts them.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { ROOT } from '../integration/harness.js';
import { itPassedSteps, readConsole } from './console-steps.js';

// Issue 22's fleet (the server a builder with a registry, the client a node that only pulls): on
// unless KVC_E2E_FLEET=0 (run-pair.sh reads the same variable).
const FLEET = process.env.KVC_E2E_FLEET !== '0';

const BOOTS = [
  {
    name: 'server',
    steps: [
      'server: the link is up',
      // Issue 22 (unless KVC_E2E_FLEET=0): the server is the fleet's builder.
      FLEET && 'server: Debian\'s docker-registry answers on 10.77.0.1:5000',
      FLEET && 'server: kvc publish usbip 6.1.0-56-cloud-amd64 pushed a signed image',
      FLEET && 'server: kvc publish usbip 6.1.0-56-amd64 pushed a second signed image',
      FLEET && 'server: kvc publish usbip 6.12.117+deb12-cloud-amd64 pushed a third signed image',
      FLEET && 'server: a tampered image (one layer added) pushed unsigned to 10.77.0.1:5000/tampered',
      'server: kvc@usbip loaded usbip_core, usbip_host, vhci_hcd',
      'server: the service bound both disks of one VID:PID, told apart by serial',
      'server: the keyboard (',
      'server: kvc\'s nftables table (inet kvc_usbip) lets only 10.77.0.2 and loopback reach TCP 3240 and 3241',
      'server: the device list listens on loopback and 10.77.0.1 only, not on every address',
      'server: usbipd runs under the service with no capabilities (CapEff 0000000000000000)',
      'server: usbipd runs in its own container, read-only root, not privileged (true true false)',
      'server: from inside usbipd\'s container no disk, no /sys outside USB and no image file can be written',
      'server: the client (10.77.0.2) imported disk A, and the service says who',
      'server: kvc status: disk A and disk B, each with its bus id, VID:PID and serial, imported by 10.77.0.2',
      'server: the service saw disk A go',
      'server: disk A, plugged in again on another port (a new bus id), was exported again by the service by itself',
      'server: the client imported disk A again',
      'server: the kernel log names the stranger on 3240',
      'server: the kernel log names the stranger on 3241',
      'server: no connection from the stranger reached usbipd',
      'server: the journal records the client\'s attach of disk A with its address',
      'server: the devices file was edited twice while the service ran',
      'server: kvc\'s nftables table followed the first edit without a restart',
      'server: the service cut the client\'s import of disk B, saying so, and was not restarted',
      'server: the client released disk A',
      'server: the keyboard was never bound to usbip-host',
      'server: stopped and unloaded',
      'server: both disks went back to their own driver',
    ],
  },
  {
    name: 'client',
    steps: [
      'client: the kernel has no USB at all',
      !FLEET && 'client: image loaded from podman save',
      'client: the link is up',
      // Issue 22 (unless KVC_E2E_FLEET=0): the client is a node: its image only by a verified pull, a tampered one refused.
      FLEET && 'client: no usbip image here before the pull, and no compiler',
      FLEET && 'client: the builder published',
      FLEET && 'client: the tampered image is refused',
      FLEET && 'client: kvc status gives the refusal\'s reason and that nothing was built (KVC_BUILD_FALLBACK=no)',
      FLEET && 'client: the image came by a verified pull from 10.77.0.1:5000/kvc',
      'client: containers ctr-a and ctr-b run',
      'client: kvc@usbip is active with the USB core, USB/IP and storage drivers loaded',
      'client: kvc status says kvc provides the USB core for this kernel',
      'client: the service attached disk A and disk B by itself once the server exported them',
      'client: usbip list -r shows neither disk',
      'client: two disks came over USB/IP',
      'client: the data of the import named by disk A\'s serial is disk A\'s',
      'client: the stranger\'s namespace is up at 10.77.0.3',
      'client: the stranger reaches the server at all',
      'client: the stranger cannot open the device list, TCP 3241',
      'client: crafted USB/IP (OP_REQ_DEVLIST) from the stranger to TCP 3240 gets no connection',
      'client: the permitted client (this host, 10.77.0.2) connects to both ports',
      'client: usbip list -r 10.77.0.1 from the stranger fails',
      'client: usbip attach -r 10.77.0.1 -b ',
      'client: nothing was attached for the stranger',
      'client: built with 16 controllers of one port per hub (32 ports), the second disk landed on a controller other than the first',
      'client: the import that names only 46f4:0001 is refused, the candidates listed',
      'client: ctr-a\'s /dev has exactly disk A\'s node',
      'client: ctr-a reads disk A through its node',
      'client: ctr-b reads disk B through its node',
      'client: ctr-a has no node of disk B and cannot make one',
      'client: ctr-b has no node of disk A and cannot make one',
      'client: kvc status shows the attachments',
      'client: the host command\'s second attach is refused',
      'client: an attach past the guard is refused by the server',
      'client: the read that ran during both attempts completed intact',
      'client: the first attachment was not disturbed',
      'client: the service saw disk A drop off its vhci port',
      'client: the service attached disk A again by itself',
      'client: it is disk A again (its data), found by serial on its new bus id',
      'client: ctr-a was given disk A\'s new node',
      'client: kvc status counts one reconnect',
      'client: replug 2: the service attached disk A again by itself',
      'client: replug 3: the service attached disk A again by itself',
      'client: the server was asked over the link to edit its devices file, and did',
      'client: disk B was taken from this client ',
      'client: 15 s later disk B is still not attached again',
      'client: the server was asked to name this client again, and did',
      'client: named again, disk B was attached again by the service',
      'client: without a tunnel, a capture on the link reads disk B\'s serial in clear',
      // Issue 22 (the fleet): the node's kernel update, its image pulled ahead of the reboot.
      FLEET && 'client: after the kernel package install, kvc pulled 6.12.117+deb12-cloud-amd64\'s image, verified, before any reboot',
      'client: with ctr-b gone, the service detached disk B',
      'client: stop detached the disks and unloaded everything kvc loaded, usbcore included',
      'client: ctr-a\'s node was taken back on stop',
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

describe('end-to-end: a cloud-kernel client without USB imports and keeps USB disks from a server over USB/IP', function () {
  this.timeout(90 * 60 * 1000);
  // Another prefix (KVC_E2E_PAIR_PREFIX) keeps a developer's run apart from CI's.
  const prefix = process.env.KVC_E2E_PAIR_PREFIX ?? '/var/tmp/kvc-e2e-pair-test';
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
    const native = figure('server', /bench: native read of 32 MiB from \S+: (\d+) ms/);
    const remote = figure('client', /bench: read of 32 MiB through USB\/IP from \S+: (\d+) ms/);
    if (native !== undefined && remote !== undefined) {
      process.stdout.write(`      (32 MiB read: ${native} ms natively on the server, ${remote} ms through USB/IP on the client: throughput ${(native / remote).toFixed(2)} x native)\n`);
    }
    // From the replug (QMP device_add on the server) to disk A usable again on the client.
    const replug = existsSync(`${prefix}-replug-ms`) ? readFileSync(`${prefix}-replug-ms`, 'utf8').trim() : undefined;
    if (replug !== undefined) process.stdout.write(`      (replug to usable again on the client: ${replug} ms)\n`);
    // The fleet's node: its pulls (docs/benchmarks.md, "many hosts").
    for (const line of readConsole(`${prefix}-client.log`).split('\n').filter((text) => /bench: node (pull|, kernel install)/.test(text))) {
      process.stdout.write(`      (${line.replace(/^.*bench: /, '')})\n`);
    }
  });

  for (const boot of BOOTS) {
    describe(boot.name, () => {
      let console = '';
      before(() => {
        console = readConsole(`${prefix}-${boot.name}.log`);
      });

      itPassedSteps(() => console, boot.steps.filter(Boolean));
    });
  }

  it('every boot passed (run-pair.sh exited 0)', () => {
    expect(status).to.equal(0);
  });
});
