// Unit test of the service's own bind to usbip-host (src/usbip/host-bind.ts) on a sysfs-like tree:
// the writes `usbip bind` makes, in its order, and what it refuses. The kernel's side (the device
// bound, usbipd exporting it, a client attaching it) is proven by the two-guest end-to-end test.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindToUsbipHost } from '../../../lib/usbip/host-bind.js';

describe('usbip: the service binds a device to usbip-host by sysfs writes (as usbip bind makes them)', () => {
  let sys, writes;
  const record = (fail) => async (path, text) => {
    writes.push([path.slice(sys.length), text]);
    if (fail !== undefined && path.endsWith(fail)) throw new Error('No such device');
  };
  // A device at devices/<parent>/<busid>, linked from bus/usb/devices, with its class and driver.
  const device = (busid, { cls = '00', driver, parent = 'pci0000:00/0000:00:03.0/usb2' } = {}) => {
    const dir = join(sys, 'devices', parent, busid);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'bDeviceClass'), `${cls}\n`);
    if (driver !== undefined) {
      mkdirSync(join(sys, 'bus/usb/drivers', driver), { recursive: true });
      symlinkSync(join(sys, 'bus/usb/drivers', driver), join(dir, 'driver'));
    }
    mkdirSync(join(sys, 'bus/usb/devices'), { recursive: true });
    symlinkSync(dir, join(sys, 'bus/usb/devices', busid));
  };
  beforeEach(() => {
    sys = mkdtempSync(join(tmpdir(), 'kvc-bind-'));
    writes = [];
  });
  afterEach(() => rmSync(sys, { recursive: true, force: true }));

  it('unbinds it from its driver, adds it to match_busid, then binds it, in that order', async () => {
    device('2-4', { driver: 'usb' });
    expect(await bindToUsbipHost(sys, '2-4', record())).to.deep.equal({ ok: true, said: '' });
    expect(writes).to.deep.equal([
      ['/bus/usb/drivers/usb/unbind', '2-4'],
      ['/bus/usb/drivers/usbip-host/match_busid', 'add 2-4'],
      ['/bus/usb/drivers/usbip-host/bind', '2-4'],
    ]);
  });

  it('a device with no driver is not unbound first; one bound to usbip-host already is left alone', async () => {
    device('1-1.3');
    expect((await bindToUsbipHost(sys, '1-1.3', record())).ok).to.equal(true);
    expect(writes.map(([path]) => path)).to.deep.equal(['/bus/usb/drivers/usbip-host/match_busid', '/bus/usb/drivers/usbip-host/bind']);
    writes = [];
    device('1-2', { driver: 'usbip-host' });
    expect((await bindToUsbipHost(sys, '1-2', record())).ok).to.equal(true);
    expect(writes).to.deep.equal([]);
  });

  it('a failed bind takes the bus id out of match_busid again, and says why', async () => {
    device('2-4', { driver: 'usb' });
    const result = await bindToUsbipHost(sys, '2-4', record('usbip-host/bind'));
    expect(result.ok).to.equal(false);
    expect(result.said).to.match(/unable to bind device on 2-4: No such device/);
    expect(writes.at(-1)).to.deep.equal(['/bus/usb/drivers/usbip-host/match_busid', 'del 2-4']);
  });

  it('refuses, writing nothing: a hub, a device imported over USB/IP (vhci_hcd: a bind loop), a device not there, a bus id that walks out of the folder', async () => {
    device('1-1', { cls: '09', driver: 'usb' });
    device('3-1', { driver: 'usb', parent: 'platform/vhci_hcd.0/usb3' });
    expect(await bindToUsbipHost(sys, '1-1', record())).to.deep.include({ ok: false, said: '1-1 is a hub: not bound' });
    expect((await bindToUsbipHost(sys, '3-1', record())).said).to.match(/bind loop detected/);
    expect((await bindToUsbipHost(sys, '9-9', record())).said).to.match(/does not exist: 9-9/);
    expect((await bindToUsbipHost(sys, '../../../drivers/usb', record())).said).to.match(/is not a USB bus id/);
    expect(writes).to.deep.equal([]);
  });
});
