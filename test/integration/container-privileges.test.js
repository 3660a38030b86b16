// What each kind of container kvc starts is given, measured on the real podman: each is started
// with kvc's own argument builders, its command replaced by one that prints its capabilities,
// seccomp mode, no_new_privs and mounts (the tools container is measured as it runs).
// docs/security.md's table "What each container is given" is written from these values.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolPortRecords, VHCI_STATE_PATH } from '../../lib/usbip/tool-records.js';
import { execFileSync } from 'node:child_process';
import { CONTAINERS_CONF, KVER, ensureUsbipImage, podman } from './harness.js';
import { daemonRunArgs, inspectRunArgs, moduleRunArgs, toolRunArgs, toolsHolderRunArgs } from '../../lib/runtime/args.js';

const IMAGE = `localhost/usbip-1.0.0:${KVER}`;
const PROBE = ['sh', '-c', 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; cat /proc/self/mountinfo'];
const CAP_SYS_MODULE = 1n << 16n;

// { capEff, capBnd, noNewPrivs, seccomp, sys: 'rw'|'ro'|undefined, dev: fs type of /dev }
function parse(text) {
  const field = (name) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1];
  const mount = (point) => text.split('\n').map((line) => line.split(' ')).find((parts) => parts[4] === point);
  const sys = mount('/sys');
  const dev = mount('/dev');
  return {
    capEff: BigInt(`0x${field('CapEff')}`),
    capBnd: BigInt(`0x${field('CapBnd')}`),
    noNewPrivs: field('NoNewPrivs'),
    seccomp: field('Seccomp'),
    sys: sys === undefined ? undefined : sys[5].split(',')[0],
    root: mount('/')?.[5].split(',')[0],
    dev: dev === undefined ? undefined : `${dev[dev.indexOf('-') + 1]} ${dev[5].split(',')[0]}`,
  };
}

// Runs kvc's argument list with its command (everything after the image) replaced by PROBE.
function measure(args) {
  const at = args.indexOf(IMAGE);
  const probeArgs = [...args.slice(0, at + 1).filter((arg) => arg !== '--interactive'), ...PROBE];
  return parse(podman(probeArgs));
}

describe('what each container kvc starts is given (measured on the real podman)', function () {
  this.timeout(120000);
  before(() => ensureUsbipImage());
  after(() => { try { podman(['rm', '--force', '--time=0', 'kvc-privileges-tools']); } catch { /* gone */ } });

  it('image checks (modinfo): no capabilities, seccomp filter, no new privileges', () => {
    const got = measure(inspectRunArgs(IMAGE, ['modinfo']));
    expect(got).to.include({ capEff: 0n, capBnd: 0n, noNewPrivs: '1', seccomp: '2', sys: 'ro' });
  });

  it('load/unload (modprobe, rmmod): CAP_SYS_MODULE only, seccomp filter, no new privileges, /sys read-only', () => {
    const got = measure(moduleRunArgs(IMAGE, ['modprobe']));
    expect(got).to.include({ capEff: CAP_SYS_MODULE, capBnd: CAP_SYS_MODULE, noNewPrivs: '1', seccomp: '2', sys: 'ro' });
  });

  it('wrapper and pre-unload hook: no capabilities, seccomp filter, read-only root, host /sys read-write, no host /dev', () => {
    const got = measure(toolRunArgs(IMAGE, ['usbip'], { tty: false }));
    expect(got).to.include({ capEff: 0n, capBnd: 0n, noNewPrivs: '1', seccomp: '2', root: 'ro', sys: 'rw', dev: 'tmpfs rw' });
  });

  it('the tools container, as it runs: no capabilities, seccomp filter, read-only root, host /sys read-write, no host /dev', () => {
    podman(toolsHolderRunArgs('podman', IMAGE, 'kvc-privileges-tools', 'kvc-privileges-test'));
    const pid = JSON.parse(podman(['container', 'inspect', 'kvc-privileges-tools']))[0].State.Pid;
    const got = parse(`${readFileSync(`/proc/${pid}/status`, 'utf8')}\n${readFileSync(`/proc/${pid}/mountinfo`, 'utf8')}`);
    expect(got).to.include({ capEff: 0n, capBnd: 0n, noNewPrivs: '1', seccomp: '2', root: 'ro', sys: 'rw', dev: 'tmpfs rw' });
  });

  it('the tools container\'s state folder (usbip\'s port records): bound from the host over the tmpfs /run; what a tool writes there is on the host, what kvc writes there the tool reads', async () => {
    const hostDir = mkdtempSync(join(tmpdir(), 'kvc-tools-state-'));
    try {
      podman(toolsHolderRunArgs('podman', IMAGE, 'kvc-privileges-state', 'kvc-privileges-test', undefined, [{ host: hostDir, container: VHCI_STATE_PATH }]));
      // As usbip attach writes its record (mkdir, then the file, at its path: /var/run/vhci_hcd), with the tools container's confinement.
      podman(['exec', 'kvc-privileges-state', 'sh', '-c', 'mkdir -p /var/run/vhci_hcd && echo "10.77.0.1 3240 2-4" > /var/run/vhci_hcd/port3']);
      const records = new ToolPortRecords(hostDir);
      expect((await records.read(3)).record).to.deep.equal({ host: '10.77.0.1', port: '3240', busid: '2-4' });
      await records.write(0, { host: '10.77.0.2', port: '3240', busid: '1-1' });
      expect(podman(['exec', 'kvc-privileges-state', 'cat', '/run/vhci_hcd/port0'])).to.equal('10.77.0.2 3240 1-1\n');
      // The rest of /run is still the container's own tmpfs, and its root still read-only.
      podman(['exec', 'kvc-privileges-state', 'sh', '-c', 'echo x > /run/other']);
      expect(existsSync(join(hostDir, 'other'))).to.equal(false);
      expect(() => podman(['exec', 'kvc-privileges-state', 'sh', '-c', 'echo x > /etc/kvc-test'], { stdio: 'pipe' })).to.throw();
    } finally {
      try { podman(['rm', '--force', '--time=0', 'kvc-privileges-state']); } catch { /* gone */ }
      rmSync(hostDir, { recursive: true, force: true });
    }
  });

  it('usbipd\'s container: no capabilities, seccomp filter, read-only root, /sys read-only but the folders it is given, no host /dev', () => {
    const writable = '/sys/devices/virtual/misc';
    const args = daemonRunArgs('podman', { image: IMAGE, containerName: 'kvc-privileges-usbipd', instance: 'kvc-privileges-test', role: 'usbipd', command: ['usbipd'], writable: [writable] });
    const text = podman([...args.slice(0, args.indexOf(IMAGE) + 1), ...PROBE]);
    expect(parse(text)).to.include({ capEff: 0n, capBnd: 0n, noNewPrivs: '1', seccomp: '2', root: 'ro', sys: 'ro', dev: 'tmpfs rw' });
    const given = text.split('\n').map((line) => line.split(' ')).find((parts) => parts[4] === writable);
    expect(given?.[5].split(',')[0], `${writable} is bound read-write`).to.equal('rw');
  });
});

// The attacks of issue 25 (item 1), from inside usbipd's context as kvc starts it, and from a tool
// run in the tools container as the service and the host command run it. Under the old design
// (usbipd and the tools entered with nsenter --mount, in the unit's cgroup, the tools container's
// root writable, the host /dev bound read-only) each of these writes succeeded.
describe('usbipd contained: what a subverted usbipd or tool cannot do (real podman)', function () {
  this.timeout(120000);
  before(() => ensureUsbipImage());
  after(() => { try { podman(['rm', '--force', '--time=0', 'kvc-attack-tools']); } catch { /* gone */ } });

  // A sysfs attribute root may write without capabilities on this machine (the value is written
  // back unchanged, so a write that got through would change nothing).
  const ATTRIBUTE = '/sys/kernel/mm/transparent_hugepage/enabled';
  const DISK_AND_IMAGE = [
    // 1. A raw disk: make a node for the first SCSI disk and the first loop device and write them.
    'mknod /tmp/sda b 8 0 2>&1 || true; mknod /tmp/loop0 b 7 0 2>&1 || true',
    'for node in /dev/sda /dev/vda /dev/loop0 /tmp/sda /tmp/loop0; do [ -e $node ] && (printf x > $node) 2>&1 && echo "WROTE $node"; done; true',
    // 2. A binary another process runs later: the image's own setpriv and usbip.
    'for file in /usr/bin/setpriv /usr/sbin/usbip /usr/sbin/usbipd; do (printf "#!/bin/sh\\n" > $file) 2>&1 && echo "WROTE $file"; done; true',
  ];
  // 3. The host's /sys outside what it is given (usbipd only: the tools write /sys, see docs/security.md).
  const SYSFS = `v=$(sed -n 's/.*\\[\\(.*\\)\\].*/\\1/p' ${ATTRIBUTE}); (echo "$v" > ${ATTRIBUTE}) 2>&1 && echo "WROTE ${ATTRIBUTE}"; true`;

  it('from usbipd\'s container: no disk node, no write to /sys outside the USB folders, none to the image', () => {
    const args = daemonRunArgs('podman', { image: IMAGE, containerName: 'kvc-attack-usbipd', instance: 'kvc-attack-test', role: 'usbipd', command: ['usbipd'], writable: [] });
    const out = podman([...args.slice(0, args.indexOf(IMAGE) + 1), 'sh', '-c', [...DISK_AND_IMAGE, SYSFS].join('\n')]);
    expect(out).to.not.include('WROTE');
    expect(out).to.match(/mknod: \/tmp\/sda: Operation not permitted/);
    expect(out).to.include(`${ATTRIBUTE}: Read-only file system`);
    expect(out).to.match(/\/usr\/bin\/setpriv: Read-only file system/);
  });

  it('from a tool in the tools container (podman exec, as the service and the host command run it): no disk node, no write to the image', () => {
    podman(toolsHolderRunArgs('podman', IMAGE, 'kvc-attack-tools', 'kvc-attack-test'));
    const out = podman(['exec', 'kvc-attack-tools', 'sh', '-c', DISK_AND_IMAGE.join('\n')]);
    expect(out).to.not.include('WROTE');
    expect(out).to.match(/mknod: \/tmp\/sda: Operation not permitted/);
    expect(out).to.match(/\/usr\/bin\/setpriv: Read-only file system/);
  });
});
