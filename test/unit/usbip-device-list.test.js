// Unit tests of the device list's client against real HTTP servers on loopback that misbehave:
// one that trickles its answer, one that sends too much, one that lists what no USB device is.
import { expect } from 'chai';
import { createServer } from 'node:http';
import { fetchDeviceList, serveDeviceList } from '../../lib/usbip/device-list.js';

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
