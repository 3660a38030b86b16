// Unit tests, on data: the nftables ruleset kvc owns for USB/IP (issue 23), to the letter.
import { expect } from 'chai';
import { parseDevicesFile } from '../../../lib/usbip/devices-file.js';
import { guardedNetworks, renderRuleset } from '../../../lib/usbip/firewall-plan.js';

const exportsOf = (...clients) => parseDevicesFile('/etc/kvc/usbip.devices', clients.map((list, index) => `[export.d${index}]\nport = 1-${index + 1}\nclients = ${list}\n`).join('')).exports;
const REMOVE = 'table inet kvc_usbip {\n}\ndelete table inet kvc_usbip\n';

describe('usbip firewall plan', () => {
  it('renders the exact ruleset for a fixture: the union of the exports\' clients, loopback, a logged drop', () => {
    expect(renderRuleset(exportsOf('10.77.0.2, fd00:1::/64', '10.77.1.0/24, 10.77.0.2'), [3240, 3241])).to.equal(`table inet kvc_usbip {
}
delete table inet kvc_usbip
table inet kvc_usbip {
\tset clients4 {
\t\ttype ipv4_addr
\t\tflags interval
\t\telements = { 10.77.0.2, 10.77.1.0/24 }
\t}
\tset clients6 {
\t\ttype ipv6_addr
\t\tflags interval
\t\telements = { fd00:1::/64 }
\t}
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\ttcp dport { 3240, 3241 } jump guard
\t}
\tchain guard {
\t\tiif "lo" accept
\t\tip saddr @clients4 accept
\t\tip6 saddr @clients6 accept
\t\ttcp flags syn limit rate 10/minute burst 20 packets log prefix "kvc-usbip refused: " level info
\t\tcounter drop
\t}
}
`);
  });
  it('an empty family has no elements line; a device list not served leaves its port out', () => {
    const text = renderRuleset(exportsOf('10.0.0.1'), [3240, 0]);
    expect(text).to.contain('\tset clients6 {\n\t\ttype ipv6_addr\n\t\tflags interval\n\t}\n');
    expect(text).to.contain('tcp dport { 3240 } jump guard');
  });
  it('a block covered by a broader one is left out (nft refuses overlaps); neighbours stay', () => {
    const nets = guardedNetworks(exportsOf('10.1.2.3, 10.1.0.0/16', '10.2.0.0/16, 10.1.255.255', '::/0, fd00::1'));
    expect(nets.v4.map((net) => net.text)).to.deep.equal(['10.1.0.0/16', '10.2.0.0/16']);
    expect(nets.v6.map((net) => net.text)).to.deep.equal(['::/0']);
  });
  it('no exports, or an export open to any: only the delete (the ports are open)', () => {
    expect(renderRuleset([], [3240, 3241])).to.equal(REMOVE);
    expect(renderRuleset(exportsOf('10.0.0.1', 'any'), [3240, 3241])).to.equal(REMOVE);
  });
  it('names no table but kvc\'s', () => {
    const text = renderRuleset(exportsOf('10.0.0.1'), [3240, 3241]);
    expect([...text.matchAll(/table (\S+ \S+)/g)].map((found) => found[1])).to.deep.equal(['inet kvc_usbip', 'inet kvc_usbip', 'inet kvc_usbip']);
  });
});
