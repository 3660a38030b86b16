// Unit tests of the exporter's usbipd supervision, on a sysfs tree made of real files and links
// in a temporary folder. usbipd's container is a fake here (the real one is started by the
// integration test container-privileges and the two-guest end-to-end test): it records the /sys
// folders it was given and runs until its signal aborts, or exits when told to.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { Exporter } from '../../../lib/usbip/exporter.js';
import { usbRootHubDirs } from '../../../lib/usbip/usb-sysfs.js';
import { createLogger } from '../../../lib/log/logger.js';

// A sysfs with USB root hubs under a PCI controller, linked from bus/usb/devices as the kernel does.
function makeSys() {
  const sys = mkdtempSync(join(tmpdir(), 'kvc-sys-'));
  mkdirSync(join(sys, 'bus/usb/devices'), { recursive: true });
  return sys;
}
function addHub(sys, hub, controller = '0000:00:04.0') {
  const dir = join(sys, 'devices/pci0000:00', controller, hub);
  mkdirSync(dir, { recursive: true });
  symlinkSync(join('../../../devices/pci0000:00', controller, hub), join(sys, 'bus/usb/devices', hub));
}
function addDevice(sys, busid, hub, vendor, product) {
  const dir = join(sys, 'devices/pci0000:00/0000:00:04.0', hub, busid);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'idVendor'), `${vendor}\n`);
  writeFileSync(join(dir, 'idProduct'), `${product}\n`);
  symlinkSync(join('../../../devices/pci0000:00/0000:00:04.0', hub, busid), join(sys, 'bus/usb/devices', busid));
}

function capture() {
  const lines = [];
  const stream = new Writable({ write(chunk, _enc, done) { lines.push(...String(chunk).split('\n').filter((l) => l !== '')); done(); } });
  return { logger: createLogger({ style: 'plain', stream }), lines };
}

const until = async (what, test, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
};

describe('usbip exporter: usbipd in its own container', () => {
  let sys;
  let stop;
  beforeEach(() => { sys = makeSys(); stop = new AbortController(); });
  afterEach(() => { stop.abort(); rmSync(sys, { recursive: true, force: true }); });

  // A fake usbipd: each start is recorded with the folders it may write; it runs until aborted,
  // or exits at once with `exitWith` when that is set.
  function fakeUsbipd() {
    const starts = [];
    const run = (writable, onLine, signal) => {
      const start = { writable: [...writable], stopped: false };
      starts.push(start);
      onLine('usbipd: info: starting usbipd (usbip-utils 2.0)');
      return {
        exited: new Promise((resolve) => {
          if (run.exitWith !== undefined) { resolve(run.exitWith); return; }
          signal.addEventListener('abort', () => { start.stopped = true; resolve(0); }, { once: true });
        }),
      };
    };
    return { run, starts };
  }

  function exporter(runUsbipd, logger) {
    return new Exporter({
      sys, rules: [], usbip: async () => ({ ok: true, said: '', stdout: '' }), runUsbipd, metadataPort: 0,
      logger, signal: stop.signal, pollMs: 20, onChange: () => {},
    });
  }

  it('the root hubs are given as their /sys paths, resolved through bus/usb/devices, sorted; devices are not hubs', async () => {
    addHub(sys, 'usb2');
    addHub(sys, 'usb1');
    addHub(sys, 'usb3', '0000:00:05.0');
    addDevice(sys, '1-1', 'usb1', '46f4', '0001');
    expect(await usbRootHubDirs(sys)).to.deep.equal([
      '/sys/devices/pci0000:00/0000:00:04.0/usb1',
      '/sys/devices/pci0000:00/0000:00:04.0/usb2',
      '/sys/devices/pci0000:00/0000:00:05.0/usb3',
    ]);
  });

  it('a hub link that leads outside /sys is not given', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'kvc-outside-'));
    symlinkSync(outside, join(sys, 'bus/usb/devices/usb9'));
    addHub(sys, 'usb1');
    expect(await usbRootHubDirs(sys)).to.deep.equal(['/sys/devices/pci0000:00/0000:00:04.0/usb1']);
    rmSync(outside, { recursive: true, force: true });
  });

  it('starts usbipd with the USB controllers\' folders writable, its lines to the journal', async () => {
    addHub(sys, 'usb1');
    const usbipd = fakeUsbipd();
    const { logger, lines } = capture();
    const exp = exporter(usbipd.run, logger);
    await exp.start();
    await until('usbipd to start', () => usbipd.starts.length === 1);
    expect(usbipd.starts[0].writable).to.deep.equal(['/sys/devices/pci0000:00/0000:00:04.0/usb1']);
    expect(lines.join('\n')).to.include('usbipd: starting in its own container');
    expect(lines.join('\n')).to.include('usbipd: starting usbipd (usbip-utils 2.0)');
    stop.abort();
    await exp.close();
    expect(usbipd.starts[0].stopped).to.equal(true);
  });

  it('a USB controller added later: usbipd is stopped and started again with its folder too', async () => {
    addHub(sys, 'usb1');
    const usbipd = fakeUsbipd();
    const { logger, lines } = capture();
    const exp = exporter(usbipd.run, logger);
    await exp.start();
    await until('usbipd to start', () => usbipd.starts.length === 1);
    addHub(sys, 'usb2', '0000:00:06.0');
    await until('usbipd to start again', () => usbipd.starts.length === 2);
    expect(usbipd.starts[0].stopped).to.equal(true);
    expect(usbipd.starts[1].writable).to.deep.equal(['/sys/devices/pci0000:00/0000:00:04.0/usb1', '/sys/devices/pci0000:00/0000:00:06.0/usb2']);
    expect(lines.join('\n')).to.match(/the USB controllers changed .*; restarting it with them/);
    // Restarted at once, not after a back-off: no "exited" warning.
    expect(lines.join('\n')).to.not.include('usbipd exited');
    stop.abort();
    await exp.close();
  });

  it('usbipd that exits is started again after a back-off, and says its status', async () => {
    addHub(sys, 'usb1');
    const usbipd = fakeUsbipd();
    usbipd.run.exitWith = 1;
    const { logger, lines } = capture();
    const exp = exporter(usbipd.run, logger);
    await exp.start();
    await until('the exit to be told', () => lines.some((line) => line.includes('usbipd exited (status 1); starting it again in 1 s')));
    stop.abort();
    await exp.close();
    expect(usbipd.starts.length).to.equal(1);
  });
});

// An exporter whose one rule (disk, 46f4:0001, these clients) names a device bound to usbip-host
// and imported (usbip_status 2); usbip calls are recorded, usbipd's lines are said by the test.
async function importedDisk(sys, clients, signal) {
  addHub(sys, 'usb1');
  addDevice(sys, '1-1', 'usb1', '46f4', '0001');
  const device = join(sys, 'devices/pci0000:00/0000:00:04.0/usb1/1-1');
  symlinkSync('../../../../bus/usb/drivers/usbip-host', join(device, 'driver'));
  writeFileSync(join(device, 'usbip_status'), '2\n');
  const calls = [];
  const made = { calls, say: undefined, ...capture() };
  const { parseDevicesFile } = await import('../../../lib/usbip/devices-file.js');
  made.rulesFor = (list) => parseDevicesFile('/etc/kvc/usbip.devices', `[export.disk]\ndevice = 46f4:0001\nclients = ${list}\n`).exports;
  made.exp = new Exporter({
    sys, rules: made.rulesFor(clients), usbip: async (args) => { calls.push(args); return { ok: true, said: '', stdout: '' }; },
    runUsbipd: (_writable, onLine, stopped) => { made.say = onLine; return { exited: new Promise((resolve) => stopped.addEventListener('abort', () => resolve(0))) }; },
    metadataPort: 0, listenOn: [], logger: made.logger, signal, pollMs: 60_000, onChange: () => {},
  });
  await made.exp.start();
  await until('usbipd to start', () => made.say !== undefined);
  return made;
}

// Issue 23: usbipd serves every export on one port, so the kernel lets through the union of the
// exports' clients; the exporter takes a device back from a peer its own export does not name,
// and journals each attach and each refusal with the peer's address.
describe('usbip exporter: who may attach which export', () => {
  let sys;
  let stop;
  beforeEach(() => { sys = makeSys(); stop = new AbortController(); });
  afterEach(() => { stop.abort(); rmSync(sys, { recursive: true, force: true }); });

  it('an attach by a peer the export names is journaled; one by a peer it does not name is refused and unbound at once', async () => {
    const { exp, calls, say, lines } = await importedDisk(sys, '10.77.0.2, 10.77.1.0/24', stop.signal);
    say('usbipd: info: connection from 10.77.1.7:40000');
    say('usbipd: info: found requested device: 1-1');
    await until('the attach to be journaled', () => lines.some((line) => line.includes('export disk: import of 1-1 (46f4:0001) requested by 10.77.1.7, one of its clients')));
    expect(calls).to.deep.equal([]);
    say('usbipd: info: connection from 10.66.6.6:40001');
    say('usbipd: info: found requested device: 1-1');
    await until('the refusal', () => calls.length > 0);
    expect(calls[0]).to.deep.equal(['unbind', '--busid', '1-1']);
    expect(lines.join('\n')).to.include('export disk: attach of 1-1 (46f4:0001) by 10.66.6.6 refused: not among its clients (10.77.0.2, 10.77.1.0/24); taking it back');
    stop.abort();
    await exp.close();
  });
});

// Issue 23: a client taken off an export's clients while it holds the device (the devices file
// edited while the service runs) loses it at once: unbound (its connection ends), then bound again.
describe('usbip exporter: new rules while a device is imported', () => {
  let sys;
  let stop;
  beforeEach(() => { sys = makeSys(); stop = new AbortController(); });
  afterEach(() => { stop.abort(); rmSync(sys, { recursive: true, force: true }); });

  it('cuts the peer no longer named, keeps the one still named, and the device list follows the new clients', async () => {
    const { exp, calls, say, lines, rulesFor } = await importedDisk(sys, '10.77.0.2, 10.77.0.3', stop.signal);
    say('usbipd: info: connection from 10.77.0.2:40000');
    say('usbipd: info: found requested device: 1-1');
    await until('the attach to be journaled', () => lines.some((line) => line.includes('requested by 10.77.0.2, one of its clients')));
    await exp.updateRules(rulesFor('10.77.0.2'));
    expect(calls).to.deep.equal([]);
    expect(exp.state().exported[0].importedBy).to.equal('10.77.0.2');
    await exp.updateRules(rulesFor('10.77.0.9'));
    // usbip-host's own switch: -1 to usbip_sockfd ends the connection; no unbind needed.
    expect(readFileSync(join(sys, 'bus/usb/devices/1-1/usbip_sockfd'), 'utf8')).to.equal('-1');
    expect(calls).to.deep.equal([]);
    expect(lines.join('\n')).to.include('export disk: 10.77.0.2 is no longer among its clients (10.77.0.9); taking 1-1 back from it');
    expect(exp.state().exported[0].importedBy).to.equal(null);
    // Where usbip_sockfd cannot be written (here: a folder in its place), the device is unbound.
    say('usbipd: info: connection from 10.77.0.9:40002');
    say('usbipd: info: found requested device: 1-1');
    await until('the attach to be journaled', () => lines.some((line) => line.includes('requested by 10.77.0.9, one of its clients')));
    rmSync(join(sys, 'bus/usb/devices/1-1/usbip_sockfd'));
    mkdirSync(join(sys, 'bus/usb/devices/1-1/usbip_sockfd'));
    await exp.updateRules(rulesFor('10.77.0.2'));
    expect(calls).to.deep.equal([['unbind', '--busid', '1-1']]);
    stop.abort();
    await exp.close();
  });
});

// Issue 23: no 1-second loop; a fake event source (a Waker woken by the test) stands in for the
// kernel's devtmpfs events.
describe('usbip exporter: replug on the USB event', () => {
  let sys;
  let stop;
  beforeEach(() => { sys = makeSys(); stop = new AbortController(); });
  afterEach(() => { stop.abort(); rmSync(sys, { recursive: true, force: true }); });

  it('a device plugged in is bound on the event at once, not at the next periodic look', async () => {
    const { Waker } = await import('../../../lib/usbip/waker.js');
    const { parseDevicesFile } = await import('../../../lib/usbip/devices-file.js');
    addHub(sys, 'usb1');
    const waker = new Waker();
    const calls = [];
    const { logger } = capture();
    const exp = new Exporter({
      sys, rules: parseDevicesFile('/etc/kvc/usbip.devices', '[export.disk]\ndevice = 46f4:0001\nclients = 10.77.0.2\n').exports,
      usbip: async (args) => { calls.push(args.join(' ')); return { ok: true, said: '', stdout: '' }; },
      runUsbipd: (_writable, _onLine, signal) => ({ exited: new Promise((resolve) => signal.addEventListener('abort', () => resolve(0))) }),
      metadataPort: 0, listenOn: [], logger, signal: stop.signal, pollMs: 60_000, waker, onChange: () => {},
    });
    await exp.start();
    addDevice(sys, '1-1', 'usb1', '46f4', '0001');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(calls, 'no event: nothing looked').to.deep.equal([]);
    const plugged = Date.now();
    waker.wake();
    await until('the bind', () => calls.length > 0, 10_000);
    // On the event, against the periodic look a minute away (a bound with room for a loaded machine).
    expect(Date.now() - plugged).to.be.below(5000);
    expect(calls).to.deep.equal(['bind --busid 1-1']);
    stop.abort();
    await exp.close();
  });
});
