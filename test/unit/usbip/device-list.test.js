// Unit tests of the device list's client against real HTTP servers on loopback that misbehave:
// one that trickles its answer, one that sends too much, one that lists what no USB device is.
import { expect } from 'chai';
import { createServer } from 'node:http';
import { fetchDeviceList, serveDeviceList } from '../../../lib/usbip/device-list.js';

const serve = (handler) => new Promise((resolve) => {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1', () => resolve(server));
});
const close = (server) => new Promise((resolve) => { server.closeAllConnections?.(); server.close(resolve); });

describe('usbip device list (real HTTP on loopback)', function () {
  this.timeout(10000);

  it('gives up on a server that trickles its answer, within the deadline', async () => {
    const server = await serve((request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => response.write(' '), 50);
      request.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    const listed = await fetchDeviceList('127.0.0.1', server.address().port, { timeoutMs: 500 });
    expect(listed).to.equal(undefined);
    expect(Date.now() - started).to.be.below(2000);
    await close(server);
  });

  it('gives up on more than 1 MiB, and keeps only entries that are USB devices', async () => {
    const big = await serve((_request, response) => {
      response.writeHead(200);
      response.end(`{"devices":[${'"x",'.repeat(300000)}1]}`);
    });
    expect(await fetchDeviceList('127.0.0.1', big.address().port)).to.equal(undefined);
    await close(big);
    const odd = await serve((_request, response) => {
      response.writeHead(200);
      response.end(JSON.stringify({ devices: [
        { busid: '1-2', vendor: '46f4', product: '0001', serial: 'A', state: 'available' },
        { busid: '../../etc', vendor: '46f4', product: '0001' },
        { busid: '1-3', vendor: '46F4x', product: '0001' },
        { busid: '1-4', vendor: '46f4', product: '0001', serial: 'line\nforged' },
        { busid: '1-5', vendor: '46f4', product: '0001', state: 'mine' },
      ] }));
    });
    expect(await fetchDeviceList('127.0.0.1', odd.address().port)).to.deep.equal([{ busid: '1-2', vendor: '46f4', product: '0001', serial: 'A', state: 'available' }]);
    await close(odd);
  });

  it('kvc\'s own list answers GET /v1/devices only', async () => {
    const server = await serveDeviceList(0, () => [{ busid: '1-2', vendor: '46f4', product: '0001', serial: 'A', state: 'used' }]);
    const port = server.address().port;
    expect(await fetchDeviceList('127.0.0.1', port)).to.deep.equal([{ busid: '1-2', vendor: '46f4', product: '0001', serial: 'A', state: 'used' }]);
    const post = await fetch(`http://127.0.0.1:${port}/v1/devices`, { method: 'POST' });
    expect(post.status).to.equal(405);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).to.equal(404);
    await close(server);
  });
});

// Issue 25, item 5 (failed before: 64 idle connections from one peer filled maxConnections and
// every other client was refused for up to 30 s). Real sockets on loopback; the other peer is
// 127.0.0.2 (the whole 127/8 is loopback on Linux).
describe('usbip device list: no peer can hold it from the others', function () {
  this.timeout(20000);
  it('a peer holding 64 idle connections: another peer is still answered at once, and the idle ones are closed', async () => {
    const { connect } = await import('node:net');
    const server = await serveDeviceList(0, () => [{ busid: '1-2', vendor: '46f4', product: '0001', serial: 'A', state: 'available' }]);
    const port = server.address().port;
    const sockets = [];
    let closed = 0;
    try {
      for (let i = 0; i < 64; i += 1) {
        const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.1' });
        socket.on('error', () => {});
        socket.on('close', () => { closed += 1; });
        sockets.push(socket);
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      const started = Date.now();
      const listed = await new Promise((resolve, reject) => {
        import('node:http').then(({ get }) => {
          const req = get({ host: '127.0.0.1', port, path: '/v1/devices', localAddress: '127.0.0.2' }, (response) => {
            let body = '';
            response.on('data', (chunk) => { body += chunk; });
            response.on('end', () => resolve(JSON.parse(body)));
          });
          req.on('error', reject);
        });
      });
      // At once, against up to 30 s before (a bound with room for a loaded machine).
      expect(Date.now() - started).to.be.below(5000);
      expect(listed.devices.map((d) => d.busid)).to.deep.equal(['1-2']);
      // All but the first few of the idle peer's connections were turned away, and those few
      // closed once idle for seconds.
      for (const start = Date.now(); closed < 64 && Date.now() - start < 10_000;) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(closed).to.equal(64);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
