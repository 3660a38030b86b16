// Unit tests, on data: what the device list tells each client (only the exports it may attach;
// the host itself over loopback is told of all) and where it listens (loopback and the configured
// addresses and interfaces, never every address).
import { expect } from 'chai';
import { exportsFor, isLoopback } from '../../../lib/usbip/device-list-filter.js';
import { listenAddresses } from '../../../lib/usbip/listen-addresses.js';
import { parseClients } from '../../../lib/usbip/clients.js';

const clients = new Map([['key', parseClients('10.77.0.2')], ['disk', parseClients('10.77.0.0/24, fd00::/64')], ['open', parseClients('any')]]);
const exported = [{ rule: 'key', busid: '1-1' }, { rule: 'disk', busid: '1-2' }, { rule: 'open', busid: '1-3' }, { rule: 'unknown', busid: '1-4' }];
const rulesFor = (peer) => exportsFor(peer, exported, clients).map((entry) => entry.rule);

describe('usbip device list: each client told of its own exports', () => {
  it('a client named by one export and covered by another\'s block sees both, and the open one', () => {
    expect(rulesFor('10.77.0.2')).to.deep.equal(['key', 'disk', 'open']);
    expect(rulesFor('::ffff:10.77.0.2')).to.deep.equal(['key', 'disk', 'open']);
  });
  it('a neighbour in the block does not see the key', () => {
    expect(rulesFor('10.77.0.3')).to.deep.equal(['disk', 'open']);
    expect(rulesFor('fd00::9')).to.deep.equal(['disk', 'open']);
  });
  it('a stranger sees only what is open to any', () => {
    expect(rulesFor('192.0.2.1')).to.deep.equal(['open']);
    expect(exportsFor('192.0.2.1', exported.slice(0, 2), clients)).to.deep.equal([]);
    expect(rulesFor('')).to.deep.equal(['open']);
  });
  it('the host over loopback sees every export', () => {
    expect(rulesFor('127.0.0.1')).to.deep.equal(['key', 'disk', 'open', 'unknown']);
    expect(rulesFor('::1')).to.deep.equal(['key', 'disk', 'open', 'unknown']);
    expect(isLoopback('::ffff:127.0.0.5')).to.equal(true);
    expect(isLoopback('128.0.0.1')).to.equal(false);
    expect(isLoopback('::2')).to.equal(false);
  });
});

describe('usbip device list: where it listens', () => {
  const nic = (address, family, internal = false) => ({ address, family, internal, netmask: '', mac: '', cidr: null });
  const interfaces = { lo: [nic('127.0.0.1', 'IPv4', true), nic('::1', 'IPv6', true)], eth1: [nic('10.77.0.1', 'IPv4'), nic('fe80::1', 'IPv6')], wg0: [] };
  it('loopback alone by default', () => {
    expect(listenAddresses([], interfaces)).to.deep.equal({ addresses: ['127.0.0.1', '::1'], missing: [] });
  });
  it('addresses as written, an interface by its addresses (link-local with its zone), each once', () => {
    expect(listenAddresses(['eth1', '10.77.0.1', 'FD00::1', '127.0.0.1'], interfaces)).to.deep.equal({ addresses: ['127.0.0.1', '::1', '10.77.0.1', 'fe80::1%eth1', 'fd00::1'], missing: [] });
  });
  it('an interface with no address, or none at all, is reported, not replaced by every address', () => {
    expect(listenAddresses(['wg0', 'eth9'], interfaces)).to.deep.equal({ addresses: ['127.0.0.1', '::1'], missing: ['wg0', 'eth9'] });
  });
});
