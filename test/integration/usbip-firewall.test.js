// USB/IP's guard in the kernel (issue 23): kvc's nftables table, applied with nft -f - in a network
// namespace that stands for the exporting host. A stranger's namespace cannot open TCP 3240 or
// 3241 (IPv4 or IPv6); a listed client's can; the guard follows a changed list and goes with the
// exports, and the host's other tables stay as they were, to the byte.
import { expect } from 'chai';
import { once } from 'node:events';
import { parseDevicesFile } from '../../lib/usbip/devices-file.js';
import { renderRuleset } from '../../lib/usbip/firewall-plan.js';
import { applyRuleset } from '../../lib/usbip/nft.js';
import { makeNetns, netnsUsable, tryConnect } from './netns.js';

const PORTS = [3240, 3241];
// A service of the host's that is not kvc's.
const OTHER = 3300;
const exportsFor = (clients) => parseDevicesFile('/etc/kvc/usbip.devices', `[export.disk]\ndevice = 46f4:0001\nclients = ${clients}\n`).exports;

describe('usbip firewall: nftables in network namespaces (root)', function () {
  this.timeout(60_000);
  let net;
  let listener;
  let others;
  const apply = (text) => applyRuleset(text, { nft: ['ip', 'netns', 'exec', net.server, 'nft'] });
  const reach = (who) => {
    const client = net.clients[who];
    return PORTS.flatMap((port) => [tryConnect(client.ns, client.serverV4, port), tryConnect(client.ns, client.serverV6, port)]);
  };

  before(async function () {
    if (!netnsUsable()) this.skip();
    net = makeNetns(['friend', 'stranger']);
    // The host's own rules, which kvc must leave alone: a table of another owner with a counter.
    net.exec(net.server, ['nft', '-f', '-'], 'table ip other {\n\tchain input {\n\t\ttype filter hook input priority 0; policy accept;\n\t\ttcp dport 9 counter accept\n\t}\n}\n');
    others = net.exec(net.server, ['nft', 'list', 'ruleset']);
    // usbipd and the device list stand-in: listeners on every address of the server namespace.
    listener = net.spawnIn(net.server, [process.execPath, '-e', `for (const p of [${PORTS}, ${OTHER}]) require('net').createServer((s) => s.end()).listen(p, '::', () => console.log(p));`]);
    let heard = '';
    while (heard.split('\n').length <= PORTS.length + 1) heard += (await once(listener.stdout, 'data'))[0];
  });

  after(() => {
    listener?.kill();
    net?.close();
  });

  it('without kvc\'s table, the stranger reaches both ports (the attack works)', () => {
    expect(reach('stranger')).to.deep.equal(['connected', 'connected', 'connected', 'connected']);
  });

  it('with the friend listed: the stranger cannot open 3240 or 3241 over IPv4 or IPv6, the friend can, loopback can', async () => {
    await apply(renderRuleset(exportsFor(`${net.clients.friend.v4}, fd77:1::/64`), PORTS));
    expect(reach('stranger')).to.deep.equal(['timeout', 'timeout', 'timeout', 'timeout']);
    expect(reach('friend')).to.deep.equal(['connected', 'connected', 'connected', 'connected']);
    expect(tryConnect(net.server, '127.0.0.1', 3240)).to.equal('connected');
    expect(tryConnect(net.server, '::1', 3241)).to.equal('connected');
  });

  it('applied again with another list, the guard follows it at once (one transaction)', async () => {
    await apply(renderRuleset(exportsFor(net.clients.stranger.v4), PORTS));
    expect(reach('friend')).to.deep.equal(['timeout', 'timeout', 'timeout', 'timeout']);
    expect(reach('stranger')).to.deep.equal(['connected', 'timeout', 'connected', 'timeout']);
  });

  it('the stranger\'s other ports are not kvc\'s business', async () => {
    await apply(renderRuleset(exportsFor(net.clients.friend.v4), PORTS));
    expect(net.exec(net.server, ['nft', 'list', 'table', 'ip', 'other'])).to.contain('tcp dport 9 counter packets 0 bytes 0 accept');
    expect(tryConnect(net.clients.stranger.ns, net.clients.stranger.serverV4, OTHER)).to.equal('connected');
    expect(tryConnect(net.clients.stranger.ns, net.clients.stranger.serverV6, OTHER)).to.equal('connected');
    expect(tryConnect(net.clients.stranger.ns, net.clients.stranger.serverV4, 3242)).to.equal('refused');
  });

  it('with no exports the table goes, and the ruleset is the host\'s own again, to the byte', async () => {
    await apply(renderRuleset([], PORTS));
    expect(net.exec(net.server, ['nft', 'list', 'ruleset'])).to.equal(others);
    expect(reach('stranger')).to.deep.equal(['connected', 'connected', 'connected', 'connected']);
    await apply(renderRuleset([], PORTS));
  });
});
