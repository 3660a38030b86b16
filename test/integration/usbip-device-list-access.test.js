// The device list on real sockets in network namespaces (issue 23): served on loopback and the
// interfaces `[server] listen` names only (a client on another link finds nothing listening), and
// each client told of the exports it may attach, with no kernel guard in front (its own layer).
import { expect } from 'chai';
import { once } from 'node:events';
import { join } from 'node:path';
import { makeNetns, netnsUsable, tryConnect } from './netns.js';
import { ROOT } from './harness.js';

const PORT = 3241;
const DEVICES = [
  { rule: 'key', busid: '1-1', vendor: '1050', product: '0407', serial: 'YK1', state: 'available' },
  { rule: 'disk', busid: '1-2', vendor: '46f4', product: '0001', serial: 'DISK', state: 'available' },
];

// The exporting host: the list of DEVICES, "key" for the friend only, "disk" for the friend and
// the far namespace's block, listening where `listen` says.
const SERVER = `
const { serveDeviceList } = await import(${JSON.stringify(join(ROOT, 'lib/usbip/device-list.js'))});
const { exportsFor } = await import(${JSON.stringify(join(ROOT, 'lib/usbip/device-list-filter.js'))});
const { listenAddresses } = await import(${JSON.stringify(join(ROOT, 'lib/usbip/listen-addresses.js'))});
const { parseClients } = await import(${JSON.stringify(join(ROOT, 'lib/usbip/clients.js'))});
const clients = new Map([['key', parseClients('10.231.1.2')], ['disk', parseClients('10.231.1.2, 10.231.3.0/24')]]);
const devices = ${JSON.stringify(DEVICES)};
const { addresses } = listenAddresses(process.argv.slice(1), (await import('node:os')).networkInterfaces());
const served = [];
// As the exporter does: an address that cannot be listened on now (a link-local one still in
// duplicate address detection) is skipped, never replaced by every address.
for (const host of addresses) await serveDeviceList(${PORT}, (peer) => exportsFor(peer, devices, clients).map(({ rule, ...device }) => device), host).then(() => served.push(host), () => undefined);
console.log(served.join(' '));
`;

describe('usbip device list: where it listens and what each client is told (network namespaces, root)', function () {
  this.timeout(30_000);
  let net;
  let server;
  let listening;
  const fetchFrom = (who) => {
    const client = net.clients[who];
    const script = `import(${JSON.stringify(join(ROOT, 'lib/usbip/device-list.js'))}).then(async ({ fetchDeviceList }) => console.log(JSON.stringify(await fetchDeviceList(process.argv[1], ${PORT}, { timeoutMs: 2000 }) ?? null)));`;
    return JSON.parse(net.exec(client.ns, [process.execPath, '-e', script, client.serverV4]));
  };

  before(async function () {
    if (!netnsUsable()) this.skip();
    net = makeNetns(['friend', 'stranger', 'far']);
    // Served on the friend's and the stranger's links, not on the far one's.
    server = net.spawnIn(net.server, [process.execPath, '--input-type=module', '-e', SERVER, 's1', 's2']);
    listening = String((await once(server.stdout, 'data'))[0]).trim();
  });

  after(() => {
    server?.kill();
    net?.close();
  });

  it('listens on loopback and the named interfaces\' addresses, not on every address', () => {
    expect(listening.split(' ').filter((address) => !address.startsWith('fe80:'))).to.have.members(['127.0.0.1', '::1', '10.231.1.1', 'fd77:1::1', '10.231.2.1', 'fd77:2::1']);
    expect(listening).to.not.match(/(^| )(0\.0\.0\.0|::)( |$)/);
    expect(listening).to.not.contain('10.231.3.1');
    expect(tryConnect(net.clients.far.ns, net.clients.far.serverV4, PORT)).to.equal('refused');
    expect(tryConnect(net.clients.far.ns, net.clients.far.serverV6, PORT)).to.equal('refused');
  });

  it('the friend is told of both exports; the stranger on a served link of none', () => {
    expect(fetchFrom('friend').map((device) => device.serial)).to.deep.equal(['YK1', 'DISK']);
    expect(fetchFrom('stranger')).to.deep.equal([]);
  });

  it('the host itself over loopback is told of all', async () => {
    const local = net.exec(net.server, [process.execPath, '-e', `import(${JSON.stringify(join(ROOT, 'lib/usbip/device-list.js'))}).then(async ({ fetchDeviceList }) => console.log(JSON.stringify(await fetchDeviceList('127.0.0.1', ${PORT}))))`]);
    expect(JSON.parse(local).map((device) => device.busid)).to.deep.equal(['1-1', '1-2']);
  });
});
