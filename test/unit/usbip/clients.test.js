// Unit tests, on data: who may attach an export (the `clients` key: addresses, CIDR blocks, peer
// names, `any`), and the devices file's checks of it (every fault at once, FILE:LINE: [section] key).
import { expect } from 'chai';
import { clientAllowed, describeClients, parseClients, parsePeerAddress } from '../../../lib/usbip/clients.js';
import { parseDevicesFile } from '../../../lib/usbip/devices-file.js';
import { ConfigErrors, errorLines } from '../../../lib/errors.js';
import { formatDevices } from '../../../lib/usbip/devices-status.js';

const FILE = '/etc/kvc/usbip.devices';
const faults = (text) => {
  try {
    parseDevicesFile(FILE, text);
  } catch (error) {
    return error instanceof ConfigErrors ? error.errors.map((one) => one.message) : [error.message];
  }
  throw new Error(`accepted: ${text}`);
};

describe('usbip clients: matching', () => {
  const list = parseClients('10.77.0.2, 10.77.1.0/24 fd00:1::/64, 2001:db8::7');
  it('an IPv4 address matches itself only', () => {
    expect(clientAllowed(list, '10.77.0.2')).to.equal(true);
    expect(clientAllowed(list, '10.77.0.3')).to.equal(false);
    expect(clientAllowed(list, '10.77.0.20')).to.equal(false);
  });
  it('an IPv4 block matches its range, not its neighbours', () => {
    expect(clientAllowed(list, '10.77.1.0')).to.equal(true);
    expect(clientAllowed(list, '10.77.1.255')).to.equal(true);
    expect(clientAllowed(list, '10.77.2.0')).to.equal(false);
    expect(clientAllowed(list, '10.77.0.255')).to.equal(false);
  });
  it('a socket\'s IPv4-mapped IPv6 spelling is the IPv4 address', () => {
    expect(clientAllowed(list, '::ffff:10.77.1.9')).to.equal(true);
    expect(clientAllowed(list, '::FFFF:10.77.3.9')).to.equal(false);
  });
  it('IPv6 addresses and blocks, in any spelling, with a zone', () => {
    expect(clientAllowed(list, 'fd00:1::1234')).to.equal(true);
    expect(clientAllowed(list, 'fd00:1:0:0:ffff:ffff:ffff:ffff')).to.equal(true);
    expect(clientAllowed(list, 'fd00:1:0:1::1')).to.equal(false);
    expect(clientAllowed(list, '2001:0db8:0000::0007')).to.equal(true);
    expect(clientAllowed(list, '[2001:db8::7]')).to.equal(true);
    expect(clientAllowed(list, '2001:db8::8')).to.equal(false);
    expect(clientAllowed(parseClients('fe80::/10'), 'fe80::1%eth0')).to.equal(true);
  });
  it('an IPv4 block does not match an IPv6 address of the same bits, nor the reverse', () => {
    expect(clientAllowed(parseClients('0.0.0.0/0'), '::1')).to.equal(false);
    expect(clientAllowed(parseClients('::/0'), '10.0.0.1')).to.equal(false);
    expect(clientAllowed(parseClients('0.0.0.0/0'), '10.0.0.1')).to.equal(true);
  });
  it('what is not an address matches nothing', () => {
    expect(clientAllowed(list, 'unknown')).to.equal(false);
    expect(clientAllowed(list, '')).to.equal(false);
    expect(parsePeerAddress('10.0.0.256')).to.equal(undefined);
  });
  it('a peer name matches the addresses of that peer only', () => {
    const peers = parseClients('laptop, 10.9.9.9');
    const peerOf = (address) => ({ '10.66.0.2': 'laptop', '10.66.0.3': 'phone' })[address];
    expect(clientAllowed(peers, '10.66.0.2', peerOf)).to.equal(true);
    expect(clientAllowed(peers, '10.66.0.3', peerOf)).to.equal(false);
    expect(clientAllowed(peers, '10.66.0.2')).to.equal(false);
    expect(clientAllowed(peers, '10.9.9.9', peerOf)).to.equal(true);
  });
  it('any lets everyone in; written as the list says', () => {
    expect(clientAllowed(parseClients('any'), '203.0.113.9')).to.equal(true);
    expect(describeClients(parseClients('ANY'))).to.equal('any');
    expect(describeClients(list)).to.equal('10.77.0.2, 10.77.1.0/24, fd00:1::/64, 2001:db8::7');
    expect(describeClients(parseClients('10.0.0.1/32 10.0.0.1 ::ffff:0:0/96'))).to.equal('10.0.0.1, ::ffff:0:0/96');
  });
  it('refuses what it cannot read, a block with host bits, and any mixed with a list', () => {
    for (const [value, said] of [['', 'is empty'], ['10.0.0.1/33', 'no prefix length'], ['10.0.0.1/24', 'bits set past its /24'], ['fd00::1/64', 'bits set past'], ['any, 10.0.0.1', 'mixes "any"'], ['10.0.0', 'not an address'], ['my.host', 'not an address'], ['10.0.0.1/', 'no prefix length'], ['10.0.0.1/x', 'no prefix length']]) {
      expect(() => parseClients(value), value).to.throw(said);
    }
  });
});

describe('usbip clients: the devices file', () => {
  it('reads clients per export', () => {
    const config = parseDevicesFile(FILE, '[export.a]\ndevice = 46f4:0001\nclients = 10.0.0.2\n[export.b]\nport = 1-1\nclients = any\n[server]\nlisten = 10.0.0.1, eth1\n');
    expect(config.exports.map((rule) => describeClients(rule.clients))).to.deep.equal(['10.0.0.2', 'any']);
    expect(config.listen).to.deep.equal(['10.0.0.1', 'eth1']);
  });
  it('refuses an export with no clients, a bad entry, a peer name and a listen on all, every fault at once with its line', () => {
    const said = faults('[export.a]\ndevice = 46f4:0001\n[export.b]\ndevice = 46f4:0002\nclients = 10.0.0.1/8\n[export.c]\nport = 1-2\nclients = laptop\n[server]\nlisten = 0.0.0.0\n');
    expect(said).to.deep.equal([
      `${FILE}:1: [export.a]: names no clients: anyone who reaches this host could attach it`,
      `${FILE}:5: [export.b] clients: "10.0.0.1/8" has bits set past its /8`,
      `${FILE}:8: [export.c] clients: names the WireGuard peer "laptop", and this file has no [tunnel]`,
      `${FILE}:10: [server] listen: 0.0.0.0 would serve the list on every address`,
    ]);
  });
  it('the fault says what to write', () => {
    try {
      parseDevicesFile(FILE, '[export.a]\ndevice = 46f4:0001\n');
    } catch (error) {
      expect(errorLines(error).join('\n')).to.contain('clients = any');
      return;
    }
    throw new Error('accepted');
  });
});

describe('usbip clients: status', () => {
  const exported = (rule, busid, state, importedBy) => ({ rule, busid, vendor: '46f4', product: '0001', serial: rule.toUpperCase(), state, importedBy });
  const report = (service) => ({ file: FILE, configured: true, error: null, clients: { a: '10.77.0.2, 10.77.1.0/24', b: 'any', c: '10.0.0.9' }, service });
  it('shows per export who may attach it and who has it, and warns about clients = any', () => {
    const lines = formatDevices(report({ pid: 1, updated: '', file: FILE, exported: [exported('a', '1-1', 'imported', '10.77.0.2'), exported('b', '1-2', 'exported', null)], missing: ['c'], imports: [], tunnel: null }));
    expect(lines).to.deep.equal([
      `  devices (${FILE}):`,
      '    export a: 1-1 46f4:0001 serial A: imported by 10.77.0.2; clients: 10.77.0.2, 10.77.1.0/24',
      '    export b: 1-2 46f4:0001 serial B: exported; clients: any',
      '    export c: configured, not plugged in; clients: 10.0.0.9',
      '  warning: export b: clients = any: anyone who can reach this host can list and attach it',
    ]);
  });
  it('shows the tunnel the service brought up and the peers kvcwg carries', () => {
    const tunnel = { interface: 'kvcwg', address: '10.232.0.1/24', port: 51820, publicKey: 'PUB=', peers: [{ name: 'imp', address: '10.232.0.2', endpoint: null }, { name: 'far', address: '10.232.0.3', endpoint: '192.0.2.7:51820' }] };
    const lines = formatDevices(report({ pid: 1, updated: '', file: FILE, exported: [], missing: [], imports: [], tunnel }));
    expect(lines.slice(1, 4)).to.deep.equal([
      "    tunnel kvcwg: 10.232.0.1/24, UDP port 51820, this host's public key PUB=",
      '      peer imp: 10.232.0.2 (it makes the first contact)',
      '      peer far: 10.232.0.3, at 192.0.2.7:51820',
    ]);
    expect(formatDevices(report({ pid: 1, updated: '', file: FILE, exported: [], missing: [], imports: [], tunnel: { ...tunnel, peers: [] } }))[1]).to.equal("    tunnel kvcwg: 10.232.0.1/24, UDP port 51820, this host's public key PUB=; no peers (kvc usbip peer add)");
  });
  it('warns about clients = any while the service is stopped too', () => {
    expect(formatDevices(report(null))).to.include('  warning: export b: clients = any: anyone who can reach this host can list and attach it');
  });
});
