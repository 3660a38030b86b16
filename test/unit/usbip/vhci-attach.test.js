// Unit test of kvc's own attach (src/usbip/vhci-attach.ts): the import request and reply of USB/IP's
// protocol on data (the layout of tools/usb/usbip/src/usbip_network.h), the port and the line for
// vhci, kvc's port records; and attachOverTcp against a stand-in usbipd on loopback (a real TCP
// server speaking the reply) with a folder for /sys, since this machine has no vhci_hcd: there the
// attach file is a plain file that keeps the line written. The kernel taking the socket is proven
// in the two-guest end-to-end test (test/e2e/run-pair.sh).
import { expect } from 'chai';
import {
  closeSync, constants, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, readlinkSync, realpathSync, rmSync, utimesSync, writeFileSync, writeSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  attachLine, attachOverTcp, detachPort, importRequest, parseImportReply, parseRecord, formatRecord, pickPort, PortRecords, REPLY_BYTES,
} from '../../../lib/usbip/vhci-attach.js';
import { spawnSync } from 'node:child_process';
import { open } from 'node:fs/promises';
import { parseVhciStatus } from '../../../lib/usbip/usb-sysfs.js';

// A reply as usbipd sends it: header (version, code, status) and, on success, struct usbip_usb_device.
function reply({ version = 0x0111, code = 0x0003, status = 0, busid = '2-4', busnum = 2, devnum = 5, speed = 5, vendor = 0x46f4, product = 0x0001 } = {}) {
  const header = Buffer.alloc(8);
  header.writeUInt16BE(version, 0);
  header.writeUInt16BE(code, 2);
  header.writeUInt32BE(status, 4);
  if (status !== 0) return header;
  const device = Buffer.alloc(312);
  device.write('/sys/devices/pci0000:00/0000:00:04.0/usb2/2-4', 0);
  device.write(busid, 256);
  device.writeUInt32BE(busnum, 288);
  device.writeUInt32BE(devnum, 292);
  device.writeUInt32BE(speed, 296);
  device.writeUInt16BE(vendor, 300);
  device.writeUInt16BE(product, 302);
  return Buffer.concat([header, device]);
}

const STATUS = `hub port sta spd dev      sockfd local_busid
hs  0000 006 002 00020003 000003 3-1
hs  0001 004 000 00000000 000000 0-0
ss  0002 004 000 00000000 000000 0-0
ss  0003 004 000 00000000 000000 0-0
`;

describe('kvc\'s own attach: the protocol and the plan (data)', () => {
  it('the import request is usbip attach\'s: version 0x0111, OP_REQ_IMPORT 0x8003, status 0, the bus id NUL-padded to 32 bytes', () => {
    const request = importRequest('2-4');
    expect(request.length).to.equal(40);
    expect(request.subarray(0, 8).toString('hex')).to.equal('0111800300000000');
    expect(request.subarray(8, 11).toString()).to.equal('2-4');
    expect([...request.subarray(11)].every((byte) => byte === 0)).to.equal(true);
    expect(importRequest('1-1.2.3').subarray(8, 15).toString()).to.equal('1-1.2.3');
  });

  it('refuses to ask for what is not a bus id', () => {
    for (const bad of ['', '2', 'a-1', '2-4 ', `1-${'1.'.repeat(20)}1`]) expect(() => importRequest(bad), bad).to.throw(RangeError);
  });

  it('reads the reply: incomplete until whole, then the device vhci needs', () => {
    const whole = reply();
    expect(whole.length).to.equal(REPLY_BYTES);
    for (const cut of [0, 7, 8, 100, REPLY_BYTES - 1]) expect(parseImportReply(whole.subarray(0, cut), '2-4'), `cut at ${cut}`).to.deep.equal({ kind: 'incomplete' });
    expect(parseImportReply(whole, '2-4')).to.deep.equal({ kind: 'ok', device: { busid: '2-4', busnum: 2, devnum: 5, speed: 5, vendor: '46f4', product: '0001' } });
  });

  it('refuses a reply that is not the answer to this request, saying why', () => {
    const why = (bytes, busid = '2-4') => { const answer = parseImportReply(bytes, busid); return answer.kind === 'refused' ? answer.why : answer.kind; };
    expect(why(reply({ status: 4 }))).to.equal('the server refused the import of 2-4: no such device exported');
    expect(why(reply({ status: 2 }))).to.equal('the server refused the import of 2-4: the device is busy (imported by another client)');
    expect(why(reply({ status: 9 }))).to.equal('the server refused the import of 2-4: status 9');
    expect(why(reply({ version: 0x0106 }))).to.equal('the server speaks USB/IP version 0x0106, not 0x0111');
    expect(why(reply({ code: 0x0005 }))).to.equal('the server answered with operation 0x0005, not the import\'s reply');
    expect(why(reply({ busid: '2-5' }))).to.equal('the server gave "2-5", not the device asked for (2-4)');
    expect(why(reply({ speed: 0 }))).to.equal('the server gave 2-4 a speed vhci_hcd does not take (0)');
    // SuperSpeed Plus: vhci_hcd refuses it in its attach file; refused before a port is taken.
    expect(why(reply({ speed: 6 }))).to.equal('the server gave 2-4 a speed vhci_hcd does not take (6)');
    expect(why(reply({ status: 5 }))).to.equal('the server refused the import of 2-4: an unexpected error');
    expect(why(reply({ busnum: 0x10000 }))).to.equal('the server gave 2-4 bus 65536 device 5, out of range');
    expect(why(Buffer.concat([reply(), Buffer.from([1])]))).to.equal('the server sent 1 bytes after its reply');
  });

  it('picks the first free port of the hub the speed goes on (SuperSpeed on ss, any other on hs), skipping those tried', () => {
    const ports = parseVhciStatus(STATUS);
    expect(pickPort(ports, 5)?.port).to.equal(2);
    expect(pickPort(ports, 5, new Set([2]))?.port).to.equal(3);
    expect(pickPort(ports, 5, new Set([2, 3]))).to.equal(undefined);
    expect(pickPort(ports, 3)?.port).to.equal(1);
    expect(pickPort(ports, 2, new Set([1]))).to.equal(undefined);
  });

  it('writes vhci\'s line: port, descriptor, devid (bus << 16 | device), speed', () => {
    expect(attachLine(2, 23, { busid: '2-4', busnum: 2, devnum: 5, speed: 5, vendor: '46f4', product: '0001' })).to.equal('2 23 131077 5');
  });

  it('records a port as "host port busid devid", and reads back only what it wrote', () => {
    const record = { host: '10.77.0.1', port: '3240', busid: '2-4', devid: 0x20005 };
    expect(formatRecord(record)).to.equal('10.77.0.1 3240 2-4 20005\n');
    expect(parseRecord(formatRecord(record))).to.deep.equal(record);
    for (const bad of ['', '10.77.0.1 3240 2-4', '10.77.0.1 3240 2-4 xyz', '10.77.0.1 3240 2-4 20005 more']) expect(parseRecord(bad), bad).to.equal(undefined);
  });

  it('a record is believed only while its port is in use with the devid it recorded, or just attached (not assigned yet); else stale, or none; with when it was written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvc-records-'));
    try {
      const records = new PortRecords(join(dir, 'vhci'));
      const record = { host: '10.77.0.1', port: '3240', busid: '2-4', devid: 0x20003 };
      await records.write(0, record);
      utimesSync(join(dir, 'vhci/port0'), 1000, 1000);
      const [used, free] = parseVhciStatus(STATUS);
      expect(await records.read(used)).to.deep.equal({ kind: 'believed', record, writtenMs: 1_000_000 });
      expect(await records.read({ ...used, devid: 0x20004 })).to.deep.equal({ kind: 'stale', record, writtenMs: 1_000_000 });
      // Just after the attach vhci shows the port not assigned yet (5), with devid 0: the record stands.
      expect((await records.read({ ...used, state: 5, devid: 0 })).kind).to.equal('believed');
      // A port in error (7) is not the attachment recorded.
      expect((await records.read({ ...used, state: 7 })).kind).to.equal('stale');
      expect(await records.read({ ...free, port: 0 })).to.deep.equal({ kind: 'none' });
      records.forget(0, record);
      expect(await records.read(used)).to.deep.equal({ kind: 'none' });
      records.forget(0, record);
      expect(readdirSync(join(dir, 'vhci'))).to.deep.equal([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('forgets a port\'s record only while it is still the one given (another import\'s newer record for the port stays)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvc-records-'));
    try {
      const records = new PortRecords(join(dir, 'vhci'));
      const mine = { host: '10.77.0.1', port: '3240', busid: '2-4', devid: 0x20003 };
      const theirs = { host: '10.77.0.2', port: '3240', busid: '1-1', devid: 0x10002 };
      await records.write(0, mine);
      // The port dropped and another server's import attached there and recorded it before this
      // import's reset forgot its own.
      await records.write(0, theirs);
      records.forget(0, mine);
      const [used] = parseVhciStatus(STATUS);
      expect(await records.read({ ...used, devid: 0x10002 })).to.deep.include({ kind: 'believed', record: theirs });
      records.forget(0, theirs);
      expect(await records.read({ ...used, devid: 0x10002 })).to.deep.equal({ kind: 'none' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('kvc\'s own attach over TCP (a stand-in usbipd on loopback, a folder for /sys)', function () {
  this.timeout(10000);
  let dir;
  let sys;
  let attachFile;
  let server;
  let seen;
  let answer;
  let closed;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-attach-'));
    sys = join(dir, 'sys');
    const vhci = join(sys, 'devices/platform/vhci_hcd.0');
    mkdirSync(vhci, { recursive: true });
    writeFileSync(join(vhci, 'status'), STATUS);
    attachFile = join(vhci, 'attach');
    writeFileSync(attachFile, '');
    seen = [];
    answer = () => reply();
    closed = new Promise((resolve) => {
      server = createServer((socket) => {
        let got = Buffer.alloc(0);
        socket.on('data', (data) => {
          got = Buffer.concat([got, data]);
          if (got.length === 40) {
            seen.push(got);
            const bytes = answer();
            if (bytes === undefined) socket.end(); else socket.write(bytes);
          }
        });
        socket.on('close', () => resolve(got));
        socket.on('error', () => {});
      });
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterEach(async () => {
    await new Promise((resolve) => server.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  const attach = (over = {}) => attachOverTcp({ address: '127.0.0.1', tcpPort: server.address().port, busid: '2-4', sys, signal: new AbortController().signal, ...over });

  it('asks for the device, writes "port sockfd devid speed" to vhci_hcd.0/attach on a free SuperSpeed port, and lets go of its descriptor', async () => {
    const result = await attach();
    expect(result).to.deep.equal({ ok: true, port: 2, device: { busid: '2-4', busnum: 2, devnum: 5, speed: 5, vendor: '46f4', product: '0001' } });
    expect(seen).to.have.length(1);
    expect(seen[0].toString('hex')).to.equal(importRequest('2-4').toString('hex'));
    const [port, fd, devid, speed] = readFileSync(attachFile, 'utf8').split(' ').map(Number);
    expect([port, devid, speed]).to.deep.equal([2, 0x20005, 5]);
    expect(fd).to.be.a('number').and.greaterThan(2);
    // No kernel took the socket here: closing kvc's descriptor ends the connection.
    await closed;
  });

  it('a high-speed device goes on a free high-speed port', async () => {
    answer = () => reply({ speed: 3 });
    const result = await attach();
    expect(result.ok && result.port).to.equal(1);
    expect(readFileSync(attachFile, 'utf8')).to.match(/^1 \d+ 131077 3$/);
  });

  it('a refusal from the server is a failure with its reason; nothing is written to vhci', async () => {
    answer = () => reply({ status: 4 });
    expect(await attach()).to.deep.equal({ ok: false, said: 'the server refused the import of 2-4: no such device exported', tool: false });
    expect(readFileSync(attachFile, 'utf8')).to.equal('');
  });

  it('a server that closes without answering, and one that does not listen, are failures that say so', async () => {
    answer = () => undefined;
    expect(await attach()).to.deep.equal({ ok: false, said: 'the server closed the connection before its reply', tool: false });
    const port = server.address().port;
    await new Promise((resolve) => server.close(resolve));
    const result = await attachOverTcp({ address: '127.0.0.1', tcpPort: port, busid: '2-4', sys, signal: new AbortController().signal });
    expect(result).to.deep.equal({ ok: false, said: `127.0.0.1:${port}: ECONNREFUSED`, tool: false });
    server = createServer().listen(0);
  });

  it('no free port of the device\'s speed: a failure that says which kind, the connection closed', async () => {
    writeFileSync(join(sys, 'devices/platform/vhci_hcd.0/status'), STATUS.replace(/ss  0002 004/, 'ss  0002 006').replace(/ss  0003 004/, 'ss  0003 006'));
    expect(await attach()).to.deep.equal({ ok: false, said: 'no free vhci_hcd port for a SuperSpeed device', tool: false });
    await closed;
  });

  it('a vhci that cannot be written (no attach file) is a failure naming the port, the connection closed', async () => {
    rmSync(attachFile);
    const result = await attach();
    expect(result).to.deep.equal({ ok: false, said: 'vhci_hcd refused the attach on port 2: ENOENT', tool: false });
    await closed;
  });

  it('the stop (its signal) ends a try that waits for an answer', async () => {
    answer = () => Buffer.alloc(0);
    const controller = new AbortController();
    const trying = attach({ signal: controller.signal });
    // The request is in: the try now waits for the answer.
    await until(() => seen.length === 1);
    controller.abort(new Error('stopping'));
    expect(await trying).to.deep.equal({ ok: false, said: `127.0.0.1:${server.address().port}: stopping`, tool: false });
    await closed;
  });

  // A FIFO in place of one of vhci's files holds the attach at that file until the test opens the
  // other end: the stop can be given at an exact step.
  const fifo = (path) => {
    rmSync(path, { force: true });
    expect(spawnSync('mkfifo', [path]).status).to.equal(0);
  };

  // How many of this process's descriptors are open on a path (Linux's /proc/self/fd).
  const openDescriptorsOf = (path) => readdirSync('/proc/self/fd').filter((fd) => {
    try { return readlinkSync(`/proc/self/fd/${fd}`) === realpathSync(path); } catch { return false; }
  }).length;
  const until = async (condition, ms = 10_000) => {
    for (const start = Date.now(); !condition();) {
      if (Date.now() - start > ms) throw new Error(`not so after ${ms} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  it('stopped after the reply, before the write to vhci: nothing is written, the connection closed', async () => {
    const status = join(sys, 'devices/platform/vhci_hcd.0/status');
    fifo(status);
    const controller = new AbortController();
    const trying = attach({ signal: controller.signal });
    // The attach now waits to read vhci's ports (the reply is in).
    const writer = await open(status, 'w');
    controller.abort(new Error('attaching 2-4 gave no answer in 15 s'));
    await writer.write(STATUS);
    await writer.close();
    expect(await trying).to.deep.equal({ ok: false, said: 'attaching 2-4 gave no answer in 15 s', tool: false });
    expect(readFileSync(attachFile, 'utf8')).to.equal('');
    await closed;
  });

  it('stopped during the write to vhci: the port it took is detached again (no port left attached that no import owns)', async () => {
    fifo(attachFile);
    const detachFile = join(sys, 'devices/platform/vhci_hcd.0/detach');
    writeFileSync(detachFile, '');
    // The test holds both ends of the FIFO and fills it, so the attach's open succeeds and its
    // write waits for room: the stop is given while the write is under way, whatever the load.
    const pipe = openSync(attachFile, constants.O_RDWR | constants.O_NONBLOCK);
    let filled = 0;
    try {
      for (;;) filled += writeSync(pipe, Buffer.alloc(4096));
    } catch (error) {
      if (error.code !== 'EAGAIN') throw error;
    }
    try {
      const controller = new AbortController();
      const trying = attach({ signal: controller.signal });
      // The attach holds the file open (a second descriptor on it in this process): it is in its write.
      await until(() => openDescriptorsOf(attachFile) >= 2);
      controller.abort(new Error('stopping'));
      const drained = Buffer.alloc(filled);
      expect(readSync(pipe, drained)).to.equal(filled);
      expect(await trying).to.deep.equal({ ok: false, said: 'stopping; port 2 detached again', tool: false });
      const line = Buffer.alloc(4096);
      expect(line.subarray(0, readSync(pipe, line)).toString()).to.match(/^2 \d+ 131077 5$/);
      expect(readFileSync(detachFile, 'utf8')).to.equal('2');
    } finally {
      closeSync(pipe);
    }
  });

  it('detaches a port through vhci\'s detach file; says what the kernel said when it cannot', async () => {
    const detachFile = join(sys, 'devices/platform/vhci_hcd.0/detach');
    writeFileSync(detachFile, '');
    expect(await detachPort(sys, 3)).to.equal(undefined);
    expect(readFileSync(detachFile, 'utf8')).to.equal('3');
    rmSync(detachFile);
    expect(await detachPort(sys, 3)).to.equal('ENOENT');
  });
});

