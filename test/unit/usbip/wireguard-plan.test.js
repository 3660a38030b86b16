// Unit tests, on data: the WireGuard setting of issue 23, as kvc renders it: the exact ip and wg
// argument lists, and the exact nftables text with the tunnel on (TCP 3240/3241 only on kvcwg,
// only from the peers the exports admit; the plain link dropped for everyone).
import { expect } from 'chai';
import { parseClients } from '../../../lib/usbip/clients.js';
import { admittedPeers, parsePeer, parseTunnel, renderTunnelRuleset, tunnelDownCommands, tunnelUpCommands, TunnelSettingError, unknownPeer } from '../../../lib/usbip/wireguard-plan.js';

const KEY_A = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const KEY_B = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const laptop = parsePeer('laptop', { publicKey: KEY_A, address: '10.232.0.2' });
const desk = parsePeer('desk', { publicKey: KEY_B, address: 'fd00:232::3', endpoint: '192.0.2.7:51820' });
// Export rules with their clients parsed as the devices file parses them (peer names included).
const rulesOf = (...lists) => lists.map((list, index) => ({ name: `d${index}`, clients: parseClients(list) }));

describe('usbip WireGuard plan', () => {
  it('renders the exact commands that make the tunnel: interface, key, port, peers, address, up (argument lists, no shell)', () => {
    expect(tunnelUpCommands(parseTunnel({ address: '10.232.0.1/24', port: '51821' }), [laptop, desk])).to.deep.equal([
      ['ip', 'link', 'add', 'dev', 'kvcwg', 'type', 'wireguard'],
      ['wg', 'set', 'kvcwg', 'listen-port', '51821', 'private-key', '/var/lib/kvc/usbip/wireguard/private.key',
        'peer', KEY_A, 'allowed-ips', '10.232.0.2/32',
        'peer', KEY_B, 'allowed-ips', 'fd00:232::3/128', 'endpoint', '192.0.2.7:51820'],
      ['ip', 'address', 'add', '10.232.0.1/24', 'dev', 'kvcwg'],
      ['ip', 'link', 'set', 'dev', 'kvcwg', 'up'],
    ]);
    expect(tunnelDownCommands()).to.deep.equal([['ip', 'link', 'del', 'dev', 'kvcwg']]);
  });

  it('on an interface that exists, only wg set: a peer taken off is removed by its key', () => {
    expect(tunnelUpCommands(parseTunnel({ address: '10.232.0.1/24' }), [laptop], { exists: true, removed: [KEY_B] })).to.deep.equal([
      ['wg', 'set', 'kvcwg', 'listen-port', '51820', 'private-key', '/var/lib/kvc/usbip/wireguard/private.key', 'peer', KEY_B, 'remove', 'peer', KEY_A, 'allowed-ips', '10.232.0.2/32'],
    ]);
  });

  it('renders the exact ruleset with the tunnel on: 3240/3241 from loopback, or on kvcwg from the admitted peers only', () => {
    expect(renderTunnelRuleset(rulesOf('laptop'), [laptop, desk], [3240, 3241])).to.equal(`table inet kvc_usbip {
}
delete table inet kvc_usbip
table inet kvc_usbip {
\tset peers4 {
\t\ttype ipv4_addr
\t\telements = { 10.232.0.2 }
\t}
\tset peers6 {
\t\ttype ipv6_addr
\t}
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp dport { 3240, 3241 } jump guard
\t}
\tchain guard {
\t\tiif "lo" accept
\t\tiifname "kvcwg" ip saddr @peers4 accept
\t\tiifname "kvcwg" ip6 saddr @peers6 accept
\t\ttcp flags syn limit rate 10/minute burst 20 packets log prefix "kvc-usbip refused: " level info
\t\tcounter drop
\t}
}
`);
  });

  it('with the tunnel on, clients = any means every peer, and a listed block admits the peers inside it; no address outside the tunnel is ever in the sets', () => {
    expect(admittedPeers(rulesOf('any'), [laptop, desk]).map((peer) => peer.name)).to.deep.equal(['desk', 'laptop']);
    expect(admittedPeers(rulesOf('10.232.0.0/24'), [laptop, desk]).map((peer) => peer.name)).to.deep.equal(['laptop']);
    expect(admittedPeers(rulesOf('192.0.2.0/24'), [laptop, desk])).to.deep.equal([]);
    const text = renderTunnelRuleset(rulesOf('192.0.2.0/24, desk'), [laptop, desk], [3240, 3241]);
    expect(text).to.contain('\tset peers4 {\n\t\ttype ipv4_addr\n\t}');
    expect(text).to.contain('elements = { fd00:232::3 }');
    expect(text).not.to.contain('192.0.2');
  });

  it('no exports: kvc\'s table only deleted', () => {
    expect(renderTunnelRuleset([], [laptop], [3240, 3241])).to.equal('table inet kvc_usbip {\n}\ndelete table inet kvc_usbip\n');
  });

  it('names a clients entry that is no known peer', () => {
    expect(unknownPeer(rulesOf('laptop, phone'), [laptop])).to.match(/peer "phone", which kvc does not know \(kvc usbip peer add phone /);
    expect(unknownPeer(rulesOf('laptop'), [laptop])).to.equal(undefined);
  });

  it('refuses bad settings at the edge: key, address, endpoint, name, tunnel address and port', () => {
    expect(() => parsePeer('laptop', { publicKey: 'not-a-key', address: '10.232.0.2' })).to.throw(TunnelSettingError, /not a WireGuard public key/);
    expect(() => parsePeer('laptop', { publicKey: KEY_A, address: '10.232.0.0/24' })).to.throw(TunnelSettingError, /one address in the tunnel/);
    expect(() => parsePeer('laptop', { publicKey: KEY_A, address: '10.232.0.2', endpoint: 'host' })).to.throw(TunnelSettingError, /host:port/);
    expect(() => parsePeer('9x', { publicKey: KEY_A, address: '10.232.0.2' })).to.throw(TunnelSettingError, /a letter/);
    expect(() => parseTunnel({ address: '10.232.0.1' })).to.throw(TunnelSettingError, /with its prefix/);
    expect(() => parseTunnel({ address: '10.232.0.1/24', port: '70000' })).to.throw(TunnelSettingError, /UDP port/);
    expect(parseTunnel({ address: 'fd00:232::1/64' })).to.deep.equal({ address: 'fd00:232::1/64', listenPort: 51820 });
  });
});
