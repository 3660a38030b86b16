// Unit tests of USB/IP's device manager (src/usbip/device-manager.ts), what kvc@usbip runs beside
// the loaded modules. Fakes stand in for what a unit test cannot reach: a scratch folder is the
// host's root (no /dev/bus/usb there: the manager falls back to looking every second, as it does
// on a host without devtmpfs), and a recording fake is the runtime port (no tools container: no
// usbip call may reach a real one). The server named in the file is a loopback port nothing
// listens on. Not covered here: exports, which first put the kernel's firewall guard in place
// (nft, root only); the two-guest end-to-end test runs them, and real attaches, for real.
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { readUsbipDevices, startUsbipDevices, devicesFilePath } from '../../../lib/usbip/device-manager.js';
import { usbipDeviceManager } from '../../../lib/usbip/payload.js';
import { createLogger } from '../../../lib/log/logger.js';

// A port on loopback that nothing listens on (taken, then let go).
async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('usbip device manager (fake host root and runtime)', function () {
  this.timeout(15000);
  let root;
  let ctx;
  let lines;
  let execs;
  const settings = { name: 'usbip', softwareVersion: '1.0.0', modules: ['usbip-core', 'vhci-hcd'] };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'kvc-device-manager-'));
    mkdirSync(join(root, 'etc'));
    mkdirSync(join(root, 'sys/devices/platform/vhci_hcd.0'), { recursive: true });
    writeFileSync(join(root, 'sys/devices/platform/vhci_hcd.0/nports'), '8\n');
    lines = [];
    execs = [];
    const stream = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const refuse = (method) => async () => { throw new Error(`${method} is not a device manager's to call`); };
    ctx = {
      configDir: join(root, 'etc'), hostRoot: root, runDir: join(root, 'run'), runningKernel: '6.1.0-56-amd64', interactive: false,
      logger: createLogger({ stream }),
      runtime: {
        name: 'podman',
        captureExec: async (container, command) => { execs.push([container, ...command]); return { exitCode: 1, stdout: '', stderr: 'usbip: error: no vhci here' }; },
        runDaemon: () => { throw new Error('usbipd is started only for exports'); },
        build: refuse('build'), runModuleCommand: refuse('runModuleCommand'), removeImage: refuse('removeImage'),
      },
    };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('without a devices file: nothing to read, nothing started, and it says so', async () => {
    expect(await readUsbipDevices(ctx, settings)).to.equal(undefined);
    expect(await startUsbipDevices(ctx, settings, undefined, new AbortController().signal)).to.equal(undefined);
    expect(lines.join('')).to.include(`no ${devicesFilePath(ctx, 'usbip')}: no USB/IP devices are exported or imported by the service`);
  });

  it('an import whose server does not answer: started, its state published for kvc status, waiting; no attach is tried; close() takes the state away', async () => {
    const port = await closedPort();
    writeFileSync(devicesFilePath(ctx, 'usbip'), `[import.disk-a]\nserver = 127.0.0.1\nlist-port = ${port}\ndevice = 46f4:0001\nserial = A\n`);
    const config = await usbipDeviceManager.readConfig(ctx, settings);
    expect(config.imports).to.have.length(1);
    const controller = new AbortController();
    const manager = await usbipDeviceManager.start(ctx, settings, config, controller.signal);
    const statePath = join(ctx.runDir, 'usbip', 'devices.json');
    // Published as start() returns, before any loop has turned.
    expect(existsSync(statePath)).to.equal(true);
    const state = JSON.parse(readFileSync(statePath, 'utf8'));
    expect(state).to.include({ pid: process.pid, file: devicesFilePath(ctx, 'usbip') });
    expect(state.exported).to.deep.equal([]);
    expect(state.imports).to.have.length(1);
    expect(state.imports[0].state).to.not.equal('attached');
    expect(lines.join('')).to.include('0 device(s) to export, 1 to import').and.include('looking at the USB devices every 1 s instead');
    expect(execs.filter((call) => call.includes('attach')), 'nothing listed: nothing to attach').to.deep.equal([]);
    controller.abort();
    await manager.close();
    expect(existsSync(statePath), 'the state goes with the manager').to.equal(false);
  });

  it('an edit made after the file was read and before the watch began (while the service built and loaded) is not lost', async () => {
    // The attack (review of this round): the file is read before the build and load, the watch
    // begins after them; an edit in between was never seen.
    const port = await closedPort();
    writeFileSync(devicesFilePath(ctx, 'usbip'), `[import.disk-a]\nserver = 127.0.0.1\nlist-port = ${port}\ndevice = 46f4:0001\nserial = A\n`);
    const config = await usbipDeviceManager.readConfig(ctx, settings);
    writeFileSync(devicesFilePath(ctx, 'usbip'), `[import.disk-a]\nserver = 127.0.0.1\nlist-port = ${port}\ndevice = 46f4:0001\nserial = B\n`);
    const controller = new AbortController();
    const manager = await usbipDeviceManager.start(ctx, settings, config, controller.signal);
    for (let waited = 0; waited < 3000 && !lines.join('').includes('changed ('); waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(lines.join('')).to.match(/changed \(.*\): run systemctl restart kvc@usbip to apply it/);
    controller.abort();
    await manager.close();
  });

  it('a broken devices file is refused before anything starts, naming the file', async () => {
    writeFileSync(devicesFilePath(ctx, 'usbip'), '[import.disk-a]\nserver = 127.0.0.1\nno-such-key = 1\n');
    const error = await usbipDeviceManager.readConfig(ctx, settings).catch((caught) => caught);
    expect(error).to.be.an('error');
    expect(error.message).to.include(devicesFilePath(ctx, 'usbip'));
    expect(existsSync(join(ctx.runDir, 'usbip', 'devices.json'))).to.equal(false);
  });
});
