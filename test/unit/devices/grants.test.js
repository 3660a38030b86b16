// The pure parts of giving a container device nodes: node names, sysfs parsing and listing, device
// cgroup rules, podman's inspect output and OCI spec (captured from podman 4.3 for a container
// created with --cap-drop=mknod --device-cgroup-rule='b 7:* rw' --device-cgroup-rule='c 188:* rw'),
// and the checks that refuse a container.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../../lib/errors.js';
import { checkNodeName, deviceNodeOf, listDeviceNodes, nodeNameFor, parseDev, parseUevent } from '../../../lib/kernel/device-nodes.js';
import { formatRule, parseRuleText, rulesAllow } from '../../../lib/host/device-cgroup-rules.js';
import { parseContainerAccess, parseOciDeviceRules } from '../../../lib/runtime/parse.js';
import { accessRefusal, boundingCapsOf, devMountType, inCgroup, podmanFlagsFor, processRefusal } from '../../../lib/devices/grant-checks.js';

const fixture = (name) => readFileSync(new URL(`../../fixtures/${name}`, import.meta.url), 'utf8');
const LOOP3 = { type: 'b', major: 7, minor: 3 };

describe('device node names', () => {
  for (const bad of ['', '.', '..', 'a/b', '/dev/sda', '../sda', 'a\0b', 'a\nb', 'sd a', 'x'.repeat(256)]) {
    it(`refuses ${JSON.stringify(bad)}`, () => {
      expect(() => checkNodeName(bad)).to.throw(UsageError, /device node name/);
    });
  }
  for (const good of ['sdb', 'sdb1', 'ttyUSB0', 'hidraw2', 'bus-usb-001-002', 'kvc.disk_1+a@b:c']) {
    it(`takes ${good}`, () => expect(checkNodeName(good)).to.equal(good));
  }
  it('flattens a DEVNAME with folders', () => expect(nodeNameFor('bus/usb/001/002')).to.equal('bus-usb-001-002'));
});

describe('sysfs device nodes', () => {
  it('parses dev and uevent; block from the subsystem link', () => {
    expect(parseDev('8:17\n')).to.deep.equal({ major: 8, minor: 17 });
    expect(() => parseDev('8-17')).to.throw();
    expect(parseUevent('MAJOR=8\nMINOR=17\nDEVNAME=sdb1\nDEVTYPE=partition\nPARTN=1\n')).to.include({ DEVNAME: 'sdb1', DEVTYPE: 'partition' });
    expect(deviceNodeOf('/sys/x', '8:17\n', 'DEVNAME=sdb1\nDEVTYPE=partition\n', '../../../../../class/block')).to.deep.equal({ sysPath: '/sys/x', type: 'b', major: 8, minor: 17, devname: 'sdb1', devtype: 'partition' });
    expect(deviceNodeOf('/sys/y', '188:0\n', 'DEVNAME=ttyUSB0\n', '../../../../class/tty')).to.include({ type: 'c', major: 188, devname: 'ttyUSB0', devtype: undefined });
  });

  it('lists every node under a USB device folder, not following sysfs links', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kvc-sysfs-'));
    try {
      const classes = join(root, 'class');
      for (const cls of ['block', 'tty', 'usb_device']) mkdirSync(join(classes, cls), { recursive: true });
      const node = (dir, dev, uevent, cls) => {
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'dev'), `${dev}\n`);
        writeFileSync(join(dir, 'uevent'), uevent);
        symlinkSync(join(classes, cls), join(dir, 'subsystem'));
      };
      const usb = join(root, 'devices', '1-1');
      node(usb, '189:1', 'DEVNAME=bus/usb/001/002\nDEVTYPE=usb_device\n', 'usb_device');
      const disk = join(usb, '1-1:1.0', 'host0', 'target0:0:0', '0:0:0:0', 'block', 'sdb');
      node(disk, '8:16', 'DEVNAME=sdb\nDEVTYPE=disk\n', 'block');
      node(join(disk, 'sdb1'), '8:17', 'DEVNAME=sdb1\nDEVTYPE=partition\n', 'block');
      node(join(usb, '1-1:1.1', 'ttyUSB0', 'tty', 'ttyUSB0'), '188:0', 'DEVNAME=ttyUSB0\n', 'tty');
      mkdirSync(join(usb, 'power'));
      symlinkSync(usb, join(usb, '1-1:1.0', 'port')); // a link back up: a loop if followed
      mkdirSync(join(root, 'bus'));
      symlinkSync(usb, join(root, 'bus', '1-1'));
      const found = await listDeviceNodes(join(root, 'bus', '1-1'));
      expect(found.map(({ type, major, minor, devname }) => `${type} ${major}:${minor} ${devname}`)).to.deep.equal([
        'c 189:1 bus/usb/001/002', 'b 8:16 sdb', 'b 8:17 sdb1', 'c 188:0 ttyUSB0',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('device cgroup rules', () => {
  it('parses --device-cgroup-rule text', () => {
    expect(parseRuleText('c 188:* rw')).to.deep.equal({ allow: true, type: 'c', major: 188, minor: undefined, access: 'rw' });
    expect(parseRuleText('a *:* rwm')).to.include({ type: 'a', major: undefined });
    for (const bad of ['c 188 rw', 'x 1:2 rw', 'c 1:2 rx', 'c 1:2']) expect(parseRuleText(bad)).to.equal(undefined);
  });

  it('decides by the last matching rule, per access letter; nothing matching is a denial', () => {
    const rule = (text) => parseRuleText(text);
    expect(rulesAllow([rule('b 7:* rw')], LOOP3)).to.equal(true);
    expect(rulesAllow([rule('b 7:* rw')], { ...LOOP3, type: 'c' })).to.equal(false);
    expect(rulesAllow([rule('b 7:* rw')], { ...LOOP3, major: 8 })).to.equal(false);
    expect(rulesAllow([rule('b 7:3 r')], LOOP3)).to.equal(false);
    expect(rulesAllow([rule('b 7:3 r'), rule('b 7:* w')], LOOP3)).to.equal(true);
    expect(rulesAllow([rule('b *:* m')], LOOP3)).to.equal(false);
    expect(rulesAllow([rule('a *:* rwm'), { ...rule('b 7:3 w'), allow: false }], LOOP3)).to.equal(false);
    expect(rulesAllow([], LOOP3)).to.equal(false);
  });

  it("reads podman's OCI spec: its leading deny-all, then the container's rules", () => {
    expect(parseOciDeviceRules(fixture('podman-oci-config-devices.json')).map(formatRule)).to.deep.equal(['deny a *:* rwm', 'b 7:* rw', 'c 188:* rw']);
  });

  it('counts an OCI entry it cannot read as a denial of everything at its place', () => {
    const spec = (devices) => JSON.stringify({ linux: { resources: { devices } } });
    expect(parseOciDeviceRules(spec([{ allow: true, type: 'b', major: 7, access: 'rw' }, { allow: false, type: 'b', major: '7', access: 'rw' }])).map(formatRule)).to.deep.equal(['b 7:* rw', 'deny a *:* rwm']);
    expect(parseOciDeviceRules(spec([{ allow: true, type: 'b', major: 7, minor: -1 }])).map(formatRule)).to.deep.equal(['b 7:* rwm']);
    expect(parseOciDeviceRules('{}')).to.deep.equal([]);
  });
});

describe("podman's container inspect, for device access", () => {
  const [access] = parseContainerAccess(fixture('podman-container-inspect-devices.json'));

  it('keeps state, process, privileges, capabilities, cgroup and spec path', () => {
    expect(access).to.include({ name: 'kvc-devices-fixture', running: true, privileged: false, userNamespace: false, deviceRules: undefined });
    expect(access.pid).to.be.above(0);
    expect(access.capDrop).to.deep.equal(['CAP_MKNOD']);
    expect(access.effectiveCaps).to.include('CAP_CHOWN').and.not.include('CAP_MKNOD');
    expect(access.boundingCaps).to.not.include('CAP_MKNOD');
    expect(access.cgroupPath).to.equal(`/libpod_parent/libpod-${access.id}`);
    expect(access.ociConfigPath).to.match(/userdata\/config\.json$/);
  });

  it("reads docker's HostConfig.DeviceCgroupRules and user namespace mappings where they are shown", () => {
    const doc = JSON.parse(fixture('podman-container-inspect-devices.json'));
    doc[0].HostConfig.DeviceCgroupRules = ['b 7:* rw', 'bogus'];
    doc[0].HostConfig.IDMappings = { UidMap: ['0:200000:65536'], GidMap: ['0:200000:65536'] };
    const [changed] = parseContainerAccess(JSON.stringify(doc));
    expect(changed.deviceRules.map(formatRule)).to.deep.equal(['b 7:* rw']);
    expect(changed.userNamespace).to.equal(true);
  });
});

describe('which containers may be given a node', () => {
  const [base] = parseContainerAccess(fixture('podman-container-inspect-devices.json'));
  const ok = { ...base, deviceRules: parseOciDeviceRules(fixture('podman-oci-config-devices.json')) };
  const reason = (access, device = LOOP3) => accessRefusal('c1', access, device)?.reason;

  it('takes the captured container for a loop device and a ttyUSB, not for a SCSI disk', () => {
    expect(reason(ok)).to.equal(undefined);
    expect(reason(ok, { type: 'c', major: 188, minor: 0 })).to.equal(undefined);
    expect(reason(ok, { type: 'b', major: 8, minor: 16 })).to.equal('cgroup-rule');
  });

  it('refuses: not running, privileged, CAP_MKNOD effective or bounding, CAP_SYS_ADMIN, a user namespace', () => {
    expect(reason({ ...ok, running: false, pid: 0 })).to.equal('not-running');
    expect(reason({ ...ok, privileged: true })).to.equal('privileged');
    expect(reason({ ...ok, effectiveCaps: [...ok.effectiveCaps, 'CAP_MKNOD'] })).to.equal('can-mknod');
    expect(reason({ ...ok, boundingCaps: [...ok.boundingCaps, 'CAP_MKNOD'] })).to.equal('can-mknod');
    expect(reason({ ...ok, effectiveCaps: [...ok.effectiveCaps, 'CAP_SYS_ADMIN'] })).to.equal('can-mount');
    expect(reason({ ...ok, userNamespace: true })).to.equal('user-namespace');
  });

  it('without capability lists (docker): CAP_MKNOD unless dropped', () => {
    const docker = { ...ok, effectiveCaps: undefined, boundingCaps: undefined };
    expect(reason({ ...docker, capDrop: [] })).to.equal('can-mknod');
    expect(reason({ ...docker, capDrop: ['ALL'] })).to.equal(undefined);
    expect(reason({ ...docker, capAdd: ['CAP_SYS_ADMIN'] })).to.equal('can-mount');
  });

  it('says the exact podman flags', () => {
    const error = accessRefusal('c1', { ...ok, deviceRules: [] }, { type: 'c', major: 188, minor: 3 });
    expect(error.message).to.equal('c1 cannot be given c 188:3: its device cgroup rules do not let it read and write c 188:3');
    expect(error.hint).to.equal("add --device-cgroup-rule='c 188:* rw': create c1 with `podman create --cap-drop=mknod --device-cgroup-rule='c 188:* rw' …` (not --privileged, no --cap-add=mknod or sys_admin, no --userns or --uidmap), then start it and ask again");
    expect(error.exitStatus).to.equal(69);
    expect(podmanFlagsFor({ type: 'b', major: 8, minor: 0 })).to.equal("--cap-drop=mknod --device-cgroup-rule='b 8:* rw'");
  });

  it("checks the process's own view: capabilities, user namespace, a tmpfs /dev", () => {
    const facts = { boundingCaps: 0xa00425fbn, hostUserNamespace: true, devFsType: 'tmpfs' };
    expect(processRefusal('c1', facts, LOOP3)).to.equal(undefined);
    expect(processRefusal('c1', { ...facts, boundingCaps: facts.boundingCaps | (1n << 27n) }, LOOP3).reason).to.equal('can-mknod');
    expect(processRefusal('c1', { ...facts, boundingCaps: facts.boundingCaps | (1n << 21n) }, LOOP3).reason).to.equal('can-mount');
    expect(processRefusal('c1', { ...facts, hostUserNamespace: false }, LOOP3).reason).to.equal('user-namespace');
    expect(processRefusal('c1', { ...facts, devFsType: 'devtmpfs' }, LOOP3).reason).to.equal('dev-not-tmpfs');
  });

  it('reads /proc: CapBnd, the /dev mount, the cgroup', () => {
    expect(boundingCapsOf('CapInh:\t0000000000000000\nCapBnd:\t00000000a00425fb\n')).to.equal(0xa00425fbn);
    const mountinfo = '79 60 0:44 / / rw - overlay overlay rw\n81 79 0:45 / /dev rw,nosuid,noexec - tmpfs tmpfs rw,size=65536k,mode=755\n82 81 0:46 / /dev/pts rw - devpts devpts rw\n';
    expect(devMountType(mountinfo)).to.equal('tmpfs');
    expect(devMountType('79 60 0:44 / / rw - overlay overlay rw\n')).to.equal('');
    const path = '/libpod_parent/libpod-abc';
    expect(inCgroup(`5:devices:${path}\n0::${path}\n`, path)).to.equal(true);
    expect(inCgroup(`0::${path}/container\n`, path)).to.equal(true);
    expect(inCgroup(`0::${path}x\n`, path)).to.equal(false);
    expect(inCgroup('0::/user.slice/session-1.scope\n', path)).to.equal(false);
    expect(inCgroup(`4:memory:${path}\n5:devices:/\n`, path)).to.equal(false);
    expect(inCgroup(`0::${path}\n`, '')).to.equal(false);
  });
});
