// Unit tests: the consumer of container-bound imports (src/usbip/container-consumer.ts). Its
// decisions on a real sysfs-like tree: when a device may be attached for a container, which nodes
// are handed over (once each), what a container's rules refuse (said once, not retried), what is
// taken back when the kernel removes a node, when the container counts as gone. The runtime and
// the grant operations are fakes: making nodes in a real container's /dev is proven by
// test/integration/container-devices.test.js and the two-guest end-to-end test.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { containerConsumer } from '../../../lib/usbip/container-consumer.js';
import { ContainerRefusedError } from '../../../lib/errors.js';
import { createLogger } from '../../../lib/log/logger.js';

// A container as `inspectContainerAccess` describes it: running, no capabilities, rules for the block major 8.
const access = (over = {}) => ({
  id: 'c0ffee', name: 'app', running: true, pid: 4242, privileged: false, effectiveCaps: [], boundingCaps: [], capAdd: [], capDrop: ['ALL'],
  cgroupPath: '/machine.slice/app', ociConfigPath: '', deviceRules: [{ allow: true, type: 'b', major: 8, minor: '*', access: 'rwm' }], userNamespace: false, ...over,
});

describe('usbip container consumer: what a container-bound import hands over, and when', () => {
  let sys, lines, described, ops, log;
  const rule = { name: 'disk', container: 'app' };
  // A device folder: dev, uevent, and the subsystem link naming its class.
  const node = (path, dev, devname, subsystem) => {
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, 'dev'), `${dev}\n`);
    writeFileSync(join(path, 'uevent'), `DEVNAME=${devname}\n`);
    symlinkSync(`../../../class/${subsystem}`, join(path, 'subsystem'));
  };
  const consumer = (runtimeAccess) => containerConsumer(
    { logger: log, runtime: { inspectContainerAccess: async () => runtimeAccess() } },
    sys,
    ops,
  );

  beforeEach(() => {
    sys = mkdtempSync(join(tmpdir(), 'kvc-sys-'));
    const device = join(sys, 'bus/usb/devices/3-1');
    node(device, '189:257', 'bus/usb/003/002', 'usb');
    node(join(device, '3-1:1.0/host0/target0:0:0/0:0:0:0/block/sda'), '8:0', 'sda', 'block');
    node(join(device, '3-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1'), '8:1', 'sda1', 'block');
    lines = [];
    const stream = new PassThrough();
    stream.on('data', (chunk) => lines.push(String(chunk)));
    log = createLogger({ style: 'plain', stream });
    described = { granted: [], revoked: [] };
    ops = {
      // Refuses what the container's rules refuse, as the real grantDevice does (by the same rules here: block 8 only).
      grantDevice: async (runtime, container, device, name) => {
        // As the real one: the container is inspected for each node it is asked to give.
        if ((await runtime.inspectContainerAccess(container)) === undefined) throw new ContainerRefusedError('no-such-container', `there is no container ${container}`);
        if (device.type !== 'b' || device.major !== 8) throw new ContainerRefusedError('cgroup-rule', `${container} cannot be given ${device.type} ${device.major}:${device.minor}`, { hint: 'add a rule' });
        described.granted.push(name);
        return { container, device, name, path: `/dev/${name}`, mode: 0o660, uid: 0, gid: 0, cgroupAllows: [], containerId: 'c0ffee', pid: 4242, start: '1', mountNs: 1 };
      },
      revokeDevice: async (grant) => { described.revoked.push(grant.name); return 'removed'; },
      grantAlive: async () => true,
    };
  });
  afterEach(() => rmSync(sys, { recursive: true, force: true }));

  it('blocks the attach while the container is missing, stopped, or could make nodes itself; not for its device rules alone', async () => {
    let current;
    const c = consumer(() => current);
    current = undefined;
    expect(await c.blocked(rule)).to.match(/does not exist; attached once it runs/);
    current = access({ running: false });
    expect(await c.blocked(rule)).to.match(/is not running/);
    current = access({ effectiveCaps: ['CAP_MKNOD'] });
    expect(await c.blocked(rule)).to.match(/CAP_MKNOD/);
    current = access({ privileged: true });
    expect(await c.blocked(rule)).to.match(/privileged/);
    current = access({ deviceRules: [] });
    expect(await c.blocked(rule), 'the rules are checked per node, when it is given').to.equal(undefined);
    current = access();
    expect(await c.blocked(rule)).to.equal(undefined);
  });

  it('a runtime that cannot answer does not count as a verdict: it says so and tries again', async () => {
    const c = containerConsumer({ logger: log, runtime: { inspectContainerAccess: async () => { throw new Error('podman is busy'); } } }, sys, ops);
    expect(await c.blocked(rule)).to.match(/cannot be inspected \(podman is busy\); trying again/);
    expect(await c.gone(rule), 'a failed inspect is not a container gone').to.equal(false);
  });

  it('hands over each node once, remembers what the rules refuse, and takes back a node the kernel removed', async () => {
    const c = consumer(() => access());
    await c.grant(rule, '3-1');
    expect(described.granted).to.deep.equal(['sda', 'sda1']);
    expect(lines.join('')).to.include('is not given to app: its device cgroup rules do not allow it');
    await c.grant(rule, '3-1');
    expect(described.granted, 'a second look gives nothing twice').to.deep.equal(['sda', 'sda1']);
    expect(lines.join('').match(/is not given to app/g), 'the refusal is said once').to.have.length(1);
    rmSync(join(sys, 'bus/usb/devices/3-1/3-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda1'), { recursive: true });
    await c.grant(rule, '3-1');
    expect(described.revoked).to.deep.equal(['sda1']);
    await c.release(rule);
    expect(described.revoked).to.deep.equal(['sda1', 'sda']);
  });

  it('inspects the container once per look, not once per node (a runtime call each, slow under emulation)', async () => {
    let inspections = 0;
    const c = consumer(() => { inspections += 1; return access(); });
    await c.grant(rule, '3-1');
    expect(described.granted).to.deep.equal(['sda', 'sda1']);
    expect(inspections, 'three nodes (one refused by the rules), one inspect').to.equal(1);
    await c.grant(rule, '3-1');
    expect(inspections, 'nothing new to give: no inspect').to.equal(1);
    node(join(sys, 'bus/usb/devices/3-1/3-1:1.0/host0/target0:0:0/0:0:0:0/block/sda/sda2'), '8:2', 'sda2', 'block');
    await c.grant(rule, '3-1');
    expect(described.granted).to.deep.equal(['sda', 'sda1', 'sda2']);
    expect(inspections, 'the next look asks anew').to.equal(2);
    // The container went between two looks: the next look sees it, and gives nothing.
    const gone = consumer(() => undefined);
    let error;
    await gone.grant(rule, '3-1').catch((caught) => { error = caught; });
    expect(error?.reason).to.equal('no-such-container');
  });

  it('the container is gone when its granted process is, or (before any grant) when it stopped or went', async () => {
    let current = access();
    const c = consumer(() => current);
    expect(await c.gone(rule)).to.equal(false);
    current = access({ running: false });
    expect(await c.gone(rule)).to.equal(true);
    current = undefined;
    expect(await c.gone(rule)).to.equal(true);
    current = access();
    await c.grant(rule, '3-1');
    ops.grantAlive = async () => false;
    const after = containerConsumer({ logger: log, runtime: { inspectContainerAccess: async () => access() } }, sys, ops);
    await after.grant(rule, '3-1');
    expect(await after.gone(rule), 'the granted process died: gone, whatever the inspect says').to.equal(true);
  });
});
