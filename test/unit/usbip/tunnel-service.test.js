// Unit tests, on data: the service's side of the WireGuard tunnel (issue 23): the devices file's
// [tunnel] read at the edge, exports whose clients name peers (only with a tunnel, only peers kvc
// knows), those names written as the peers' tunnel addresses for the exporter and the guard, what a
// change of the peers takes off the interface, and a change of the tunnel needing a restart.
import { expect } from 'chai';
import { parseDevicesFile } from '../../../lib/usbip/devices-file.js';
import { describeClients } from '../../../lib/usbip/clients.js';
import { planReload } from '../../../lib/usbip/reload-plan.js';
import { exportsFor } from '../../../lib/usbip/device-list-filter.js';
import { describePeers, parsePeer, peersChange, renderTunnelRuleset, resolvePeerClients, TunnelSettingError } from '../../../lib/usbip/wireguard-plan.js';

const PATH = '/etc/kvc/usbip.devices';
const KEY_A = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const KEY_B = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const laptop = parsePeer('laptop', { publicKey: KEY_A, address: '10.232.0.2' });
const desk = parsePeer('desk', { publicKey: KEY_B, address: '10.232.0.3', endpoint: '192.0.2.7:51820' });
const TUNNEL = '[tunnel]\naddress = 10.232.0.1/24\nport = 51821\n\n';
const EXPORT = '[export.disk]\ndevice = 46f4:0001\nclients = laptop\n';
const parse = (text) => parseDevicesFile(PATH, text);
const faults = (text) => {
  try {
    parse(text);
  } catch (error) {
    return (error.errors ?? [error]).map((each) => `${each.message} / ${each.hint}`);
  }
  return [];
};

describe('usbip tunnel: the [tunnel] section and peer names in clients', () => {
  it('reads [tunnel] (port 51820 unless given) and lets clients name peers where it is', () => {
    const config = parse(`${TUNNEL}${EXPORT}`);
    expect(config.tunnel).to.deep.equal({ address: '10.232.0.1/24', listenPort: 51821 });
    expect(describeClients(config.exports[0].clients)).to.equal('peer laptop');
    expect(parse(`[tunnel]\naddress = fd00:232::1/64\n\n${EXPORT}`).tunnel).to.deep.equal({ address: 'fd00:232::1/64', listenPort: 51820 });
    expect(parse('[export.disk]\ndevice = 46f4:0001\nclients = 10.0.0.2\n').tunnel).to.equal(undefined);
  });

  it('refuses a peer name without [tunnel], and a [tunnel] without address or with a bad one, each with its remedy', () => {
    expect(faults(EXPORT)).to.deep.equal([
      `${PATH}:3: [export.disk] clients: names the WireGuard peer "laptop", and this file has no [tunnel] / add a [tunnel] section (address = 10.232.0.1/24) for USB/IP through WireGuard, or name the client by its address or CIDR block`,
    ]);
    expect(faults('[tunnel]\nport = 51820\n')).to.deep.equal([`${PATH}:1: [tunnel]: names no address / add address = 10.232.0.1/24 (this host's address in the tunnel, with its prefix)`]);
    expect(faults('[tunnel]\naddress = 10.232.0.1\n')[0]).to.match(/^\/etc\/kvc\/usbip.devices:2: \[tunnel\] address: address must be this host's address in the tunnel with its prefix \(10.232.0.1\/24\), not "10.232.0.1" \/ write address = 10.232.0.1\/24$/);
    expect(faults('[tunnel]\naddress = 10.232.0.1/24\nport = 70000\n')[0]).to.match(/:3: \[tunnel\] port: port must be a UDP port/);
    expect(faults('[tunnel]\naddress = 10.232.0.1/24\nlisten-port = 5\n')[0]).to.match(/\[tunnel\] listen-port: is not a key of this section/);
    expect(faults('[tunel]\naddress = 10.232.0.1/24\n')[0]).to.match(/\[tunel\]: is not a section kvc knows \(did you mean \[tunnel\]\?\)/);
  });
});

describe('usbip tunnel: peers named by clients, as the service applies them', () => {
  it('writes each named peer as its tunnel address; the exporter then admits that peer\'s connections, no other', () => {
    const rules = resolvePeerClients(parse(`${TUNNEL}${EXPORT}[export.other]\nport = 1-2\nclients = desk, 10.232.0.9\n`).exports, [laptop, desk]);
    expect(rules.map((rule) => [rule.name, describeClients(rule.clients)])).to.deep.equal([['disk', '10.232.0.2'], ['other', '10.232.0.3, 10.232.0.9']]);
    const clients = new Map(rules.map((rule) => [rule.name, rule.clients]));
    expect(exportsFor('10.232.0.2', [{ rule: 'disk' }, { rule: 'other' }], clients)).to.deep.equal([{ rule: 'disk' }]);
    expect(exportsFor('10.231.0.2', [{ rule: 'disk' }, { rule: 'other' }], clients)).to.deep.equal([]);
  });

  it('refuses a peer kvc does not know, naming the export and the command that adds it', () => {
    expect(() => resolvePeerClients(parse(`${TUNNEL}${EXPORT}`).exports, [desk])).to.throw(TunnelSettingError,
      'export disk: clients names the WireGuard peer "laptop", which kvc does not know (kvc usbip peer add laptop --public-key KEY --address 10.232.0.N adds it)');
  });

  it('while running, a peer just removed is dropped from the clients: it admits no one, and the rest stay', () => {
    const rules = resolvePeerClients(parse(`${TUNNEL}[export.disk]\ndevice = 46f4:0001\nclients = laptop, desk\n`).exports, [desk], 'drop');
    expect(describeClients(rules[0].clients)).to.equal('10.232.0.3');
    expect(exportsFor('10.232.0.2', [{ rule: 'disk' }], new Map([['disk', rules[0].clients]]))).to.deep.equal([]);
  });

  it('the guard rendered from the resolved rules admits the same peers as from the names', () => {
    const named = parse(`${TUNNEL}${EXPORT}`).exports;
    expect(renderTunnelRuleset(resolvePeerClients(named, [laptop, desk]), [laptop, desk], [3240, 3241])).to.equal(renderTunnelRuleset(named, [laptop, desk], [3240, 3241]));
    expect(renderTunnelRuleset(named, [laptop, desk], [3240, 3241])).to.contain('elements = { 10.232.0.2 }');
  });

  it('a peer removed or given a new key is taken off the interface by its old key; the same peers are no change', () => {
    expect(peersChange([laptop, desk], [laptop, desk])).to.deep.equal({ changed: false, removed: [] });
    expect(peersChange([laptop, desk], [laptop])).to.deep.equal({ changed: true, removed: [KEY_B] });
    expect(peersChange([laptop], [laptop, desk])).to.deep.equal({ changed: true, removed: [] });
    const rekeyed = parsePeer('laptop', { publicKey: KEY_B, address: '10.232.0.2' });
    expect(peersChange([laptop], [rekeyed])).to.deep.equal({ changed: true, removed: [KEY_A] });
    expect(describePeers([laptop, desk])).to.equal('laptop (10.232.0.2), desk (10.232.0.3, at 192.0.2.7:51820)');
    expect(describePeers([])).to.equal('none');
  });

  it('a change of [tunnel] needs a restart; a change of which peers an export names is taken over live', () => {
    const running = parse(`${TUNNEL}${EXPORT}`);
    expect(planReload(running, parse(`${TUNNEL.replace('51821', '51822')}${EXPORT}`))).to.deep.equal({ kind: 'restart', why: '[tunnel]' });
    expect(planReload(running, parse(EXPORT.replace('laptop', '10.0.0.2')))).to.deep.equal({ kind: 'restart', why: '[tunnel]' });
    expect(planReload(running, parse(`${TUNNEL}${EXPORT.replace('laptop', 'desk')}`))).to.deep.equal({ kind: 'exports' });
  });
});
