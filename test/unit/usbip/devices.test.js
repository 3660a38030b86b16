// Unit tests, on data: USB/IP's devices file, the export and import plans (which device a rule
// names; several matches refused with the candidates), back-off, and the parsers of vhci's status,
// usbip's port records and `usbip list -r`.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { devicesFileLines, parseDevicesFile } from '../../../lib/usbip/devices-file.js';
import { ConfigErrors, errorLines } from '../../../lib/errors.js';
import { planExports } from '../../../lib/usbip/export-plan.js';
import { backoffMs, resolveImport } from '../../../lib/usbip/import-plan.js';
import { parsePortRecord, parseVhciStatus } from '../../../lib/usbip/usb-sysfs.js';
import { parseRemoteList } from '../../../lib/usbip/usbip-tool.js';

const FILE = '/etc/kvc/usbip.devices';
const parse = (text) => parseDevicesFile(FILE, text);
const refused = (text) => {
  try {
    parse(text);
  } catch (error) {
    expect(error.name).to.equal('ConfigError');
    expect(error.hint, error.message).to.be.a('string').and.not.equal('');
    return error.message;
  }
  throw new Error(`accepted: ${text}`);
};

const disk = (busid, serial, driver = 'usb', usbipStatus = undefined) => ({ busid, vendor: '46f4', product: '0001', serial, name: 'QEMU USB HARDDRIVE', driver, usbipStatus });
const KEYBOARD = { busid: '1-1', vendor: '0627', product: '0001', serial: '42', name: 'QEMU USB Keyboard', driver: 'usb', usbipStatus: undefined };

describe('usbip devices file', () => {
  it('reads exports by VID:PID and serial or by port, imports with server, port and container', () => {
    const config = parse(`
; the server side
[export.disk-a]
device = 46F4:0001
serial = KVC-DISK-A
clients = 10.77.0.2
[export.front]
port = 1-1.2
clients = any
[import.disk-a]
server = 10.77.0.1
device = 46f4:0001
serial = KVC-DISK-A   ; by serial
container = web
[import.reader]
server = usb-host.example:3300
busid = 2-1
list-port = 0
[server]
metadata-port = 0
`);
    expect(config.exports).to.deep.equal([
      { name: 'disk-a', match: { kind: 'id', vendor: '46f4', product: '0001', serial: 'KVC-DISK-A' }, clients: { kind: 'list', entries: [{ kind: 'net', family: 4, network: 0x0a4d0002n, prefix: 32, text: '10.77.0.2' }] } },
      { name: 'front', match: { kind: 'busid', busid: '1-1.2' }, clients: { kind: 'any' } },
    ]);
    expect(config.imports).to.deep.equal([
      { name: 'disk-a', server: '10.77.0.1', port: 3240, match: { kind: 'id', vendor: '46f4', product: '0001', serial: 'KVC-DISK-A' }, container: 'web', listPort: 3241 },
      { name: 'reader', server: 'usb-host.example', port: 3300, match: { kind: 'busid', busid: '2-1' }, container: undefined, listPort: 0 },
    ]);
    expect(config.metadataPort).to.equal(0);
    expect(parse('').metadataPort).to.equal(3241);
  });

  const cases = {
    'a key outside a section': ['device = 46f4:0001', 'outside any section'],
    'an unknown section': ['[exports.a]\ndevice = 46f4:0001', 'not a section'],
    'an unknown key': ['[export.a]\nclients = any\ndevice = 46f4:0001\nvid = 1', 'not a key of this section'],
    'no device': ['[export.a]\nclients = any\nserial = X', 'device: is missing'],
    'a bad VID:PID': ['[export.a]\nclients = any\ndevice = 46f4-0001', 'is not VID:PID'],
    'port and device together': ['[export.a]\nclients = any\nport = 1-1\ndevice = 46f4:0001', 'also by device'],
    'a bad port path': ['[export.a]\nclients = any\nport = usb1', 'not a USB port path'],
    'an import without server': ['[import.a]\ndevice = 46f4:0001', 'names no server'],
    'a bad server': ['[import.a]\nserver = a b\ndevice = 46f4:0001', 'not a host name'],
    'a server port out of range': ['[import.a]\nserver = h:70000\ndevice = 46f4:0001', 'not a TCP port'],
    'a bad container name': ['[import.a]\nserver = h\ndevice = 46f4:0001\ncontainer = -x', 'not a container name'],
    'a bad device name': ['[export.a b]\nclients = any\ndevice = 46f4:0001', 'not a device name'],
    'a key given twice as an array': ['[export.a]\nclients = any\ndevice[] = 46f4:0001', 'must be one value'],
    'one device imported twice': ['[import.a]\nserver = h\nbusid = 1-1\n[import.b]\nserver = h\nbusid = 1-1', 'names the same device as [import.a]'],
    'a bad metadata port': ['[server]\nmetadata-port = x', 'not a port number'],
    'a bad list port': ['[import.a]\nserver = h\nbusid = 1-1\nlist-port = 99999', 'not a TCP port'],
    'a comment after a section header (ini would read the header as a key)': ['[import.a]\nserver = h\nbusid = 1-1\n[server]   ; optional\nmetadata-port = 1', 'not a section header alone on its line'],
    'one section given twice (ini would merge them)': ['[export.a]\nclients = any\ndevice = 46f4:0001\n[export.a]\nserial = X', '[export.a]: is given twice'],
  };
  for (const [what, [text, expected]] of Object.entries(cases)) {
    it(`refuses ${what}, naming the section and key`, () => {
      expect(refused(text)).to.include(FILE).and.include(expected);
    });
  }
});

describe('usbip devices file: every fault at once', () => {
  it('reports each fault on its own line with FILE:LINE, misspelled sections and keys pointed at the right name', () => {
    const text = '[exprot.a]\ndevice = 46f4:0001\n[export.b]\nserail = x\ndevice = 46f4:0001\n[sever]\nmetadata-port = 1\n[import.c]\nserver = a b\nbusid = x\n[import.d]\nserver = h\n';
    const error = (() => { try { parse(text); } catch (e) { return e; } })();
    expect(error).to.be.instanceOf(ConfigErrors);
    const lines = errorLines(error).map((line) => line.slice(0, line.indexOf(';')));
    expect(lines).to.deep.equal([
      `${FILE}:1: [exprot.a]: is not a section kvc knows (did you mean [export.a]?)`,
      `${FILE}:4: [export.b] serail: is not a key of this section (did you mean serial?)`,
      `${FILE}:6: [sever]: is not a section kvc knows (did you mean [server]?)`,
      `${FILE}:9: [import.c] server: "a b" is not a host name or address`,
      `${FILE}:10: [import.c] busid: "x" is not a USB port path`,
      `${FILE}:11: [import.d] device: is missing`,
    ]);
  });

  it('stops at a broken section header: what follows it cannot be read into the right section', () => {
    expect(errorLines((() => { try { parse('[import.a]\nserver = h\nbusid = 1-1\n[server]   ; x\nmetadata-port = 1\n'); } catch (e) { return e; } })()))
      .to.have.length(1).and.to.match(/^\/etc\/kvc\/usbip\.devices:4: "\[server\]   ; x" is not a section header alone on its line/);
  });

  it('places each section and key at its line', () => {
    expect([...devicesFileLines('; c\n[export.a]\ndevice = 1\n\n[import.b]\n  server=h\n')]).to.deep.equal([
      ['[export.a]', 2], ['[export]', 2], ['[export.a] device', 3], ['[import.b]', 5], ['[import]', 5], ['[import.b] server', 6],
    ]);
  });
});

describe('usbip devices file: the documentation\'s examples', () => {
  it('every ini example of docs/usbip.md\'s Devices section parses, and says what the page says', () => {
    const page = readFileSync(new URL('../../../docs/usbip.md', import.meta.url), 'utf8');
    const start = page.indexOf('\n## Devices\n');
    expect(start).to.be.at.least(0);
    const end = page.indexOf('\n## ', start + 1);
    const section = page.slice(start, end < 0 ? undefined : end);
    const blocks = [...section.matchAll(/```ini\n([\s\S]*?)```/g)].map((found) => found[1]);
    expect(blocks).to.have.length.of.at.least(2);
    const [server, client] = blocks.map((text) => parse(text));
    expect(server.exports.map((rule) => rule.clients)).to.satisfy((lists) => lists.every((list) => list !== undefined));
    expect(server.exports.map((rule) => rule.name)).to.deep.equal(['disk-a', 'front-port']);
    expect(client.imports[0]).to.deep.include({ name: 'disk-a', server: '10.77.0.1', port: 3240, container: 'ctr-a', listPort: 3241 });
  });
});

describe('usbip export plan', () => {
  const rules = parse('[export.disk-a]\ndevice = 46f4:0001\nserial = A\nclients = any\n[export.gone]\ndevice = 1234:5678\nclients = any').exports;

  it('binds the named disk only: its twin of the same VID:PID and the keyboard stay local', () => {
    const plan = planExports(rules, [KEYBOARD, disk('1-2', 'A'), disk('1-3', 'B')]);
    expect(plan.bind.map(({ device, rule }) => [device.busid, rule])).to.deep.equal([['1-2', 'disk-a']]);
    expect(plan.unbind).to.deep.equal([]);
    expect(plan.missing).to.deep.equal(['gone']);
  });

  it('takes back a device bound to usbip-host that no rule names, and does not bind twice', () => {
    const plan = planExports(rules, [disk('1-2', 'A', 'usbip-host', 1), disk('1-3', 'B', 'usbip-host', 1)]);
    expect(plan.bind).to.deep.equal([]);
    expect(plan.exported.map(({ device }) => device.busid)).to.deep.equal(['1-2']);
    expect(plan.unbind.map((device) => device.busid)).to.deep.equal(['1-3']);
  });

  it('follows a replugged device by serial to its new port', () => {
    expect(planExports(rules, [disk('1-4', 'A')]).bind.map(({ device }) => device.busid)).to.deep.equal(['1-4']);
  });

  it('with no export rules at all, leaves usbip-host alone (a client, or bound by hand)', () => {
    expect(planExports([], [disk('1-3', 'B', 'usbip-host', 1)]).unbind).to.deep.equal([]);
  });
});

describe('usbip import resolution', () => {
  const [bySerial, byId, byBusid] = parse(`
[import.a]
server = s
device = 46f4:0001
serial = A
[import.any]
server = s
device = 46f4:0001
[import.port]
server = s
busid = 1-3
`).imports;
  const listed = [{ busid: '1-2', vendor: '46f4', product: '0001', serial: 'A' }, { busid: '1-3', vendor: '46f4', product: '0001', serial: 'B' }];

  it('the serial decides between two devices of one VID:PID', () => {
    expect(resolveImport(bySerial, listed, true)).to.deep.equal({ kind: 'found', device: listed[0] });
  });

  it('refuses a VID:PID that matches several, listing the candidates with their serials', () => {
    const found = resolveImport(byId, listed, true);
    expect(found.kind).to.equal('ambiguous');
    expect(found.candidates).to.deep.equal(listed);
    expect(found.why).to.include('1-2 (46f4:0001 serial A), 1-3 (46f4:0001 serial B)').and.include('add serial');
  });

  it('refuses two devices with one serial, asking for the bus id', () => {
    const twins = [{ ...listed[0] }, { ...listed[0], busid: '1-4' }];
    const found = resolveImport(bySerial, twins, true);
    expect(found.kind).to.equal('ambiguous');
    expect(found.why).to.include('busid');
  });

  it('never guesses a serial the server did not give (plain usbipd)', () => {
    const found = resolveImport(bySerial, listed.map(({ serial: _s, ...rest }) => rest), false);
    expect(found.kind).to.equal('absent');
    expect(found.why).to.include('no serial numbers');
  });

  it('a VID:PID alone is enough where only one device has it; a bus id names exactly that port', () => {
    expect(resolveImport(byId, [listed[1]], false)).to.deep.equal({ kind: 'found', device: listed[1] });
    expect(resolveImport(byBusid, listed, false)).to.deep.equal({ kind: 'found', device: listed[1] });
    expect(resolveImport(byBusid, [listed[0]], false).kind).to.equal('absent');
  });

  it('backs off from 1 s, doubling, to at most 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40].map((n) => backoffMs(n, 1000, 30000))).to.deep.equal([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  });
});

describe('usbip parsers', () => {
  it('vhci status: every port with its state and the local bus id', () => {
    const ports = parseVhciStatus([
      'hub port sta spd dev      sockfd local_busid',
      'hs  0000 006 002 00010002 000003 3-1',
      'hs  0001 004 000 00000000 000000 0-0',
      'ss  0015 004 000 00000000 000000 0-0',
    ].join('\n'));
    expect(ports).to.deep.equal([
      { hub: 'hs', port: 0, state: 6, speed: 2, devid: 0x10002, localBusid: '3-1' },
      { hub: 'hs', port: 1, state: 4, speed: 0, devid: 0, localBusid: '0-0' },
      { hub: 'ss', port: 15, state: 4, speed: 0, devid: 0, localBusid: '0-0' },
    ]);
  });

  it('usbip port records and usbip list -r', () => {
    expect(parsePortRecord('10.77.0.1 3240 1-2\n')).to.deep.equal({ host: '10.77.0.1', port: '3240', busid: '1-2' });
    expect(parsePortRecord('')).to.equal(undefined);
    const listed = parseRemoteList([
      'Exportable USB devices',
      '======================',
      ' - 10.77.0.1',
      '        1-2: QEMU : QEMU USB HARDDRIVE (46f4:0001)',
      '           : /sys/devices/pci0000:00/0000:00:04.0/usb1/1-2',
      '           : (Defined at Interface level) (00/00/00)',
      '      1-1.3: unknown vendor : unknown product (ABCD:12ef)',
    ].join('\n'));
    expect(listed).to.deep.equal([{ busid: '1-2', vendor: '46f4', product: '0001' }, { busid: '1-1.3', vendor: 'abcd', product: '12ef' }]);
  });
});
