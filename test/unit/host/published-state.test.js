// Unit tests (real files, real processes): the service's published state is root's alone, is not
// written through a link planted at its temporary name, is checked before it is believed, and a
// writer that runs as another user counts as running (kill(pid, 0) fails with EPERM, not ESRCH).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { publishState, readPublishedState as readChecked } from '../../../lib/host/published-state.js';
import { Fields } from '../../../lib/host/json-shape.js';
import { readServiceState } from '../../../lib/ops/service-state.js';
import { readDevicesState } from '../../../lib/usbip/devices-state.js';
import { tunnelState } from '../../../lib/usbip/tunnel.js';

// A reader that checks only the process ID; a damaged file counts as none here.
const pidOnly = (value) => ({ pid: new Fields(value).integer('pid') });
const readPublishedState = (path) => { const read = readChecked(path, pidOnly); return read !== undefined && 'damaged' in read ? undefined : read; };
import { createLogger } from '../../../lib/log/logger.js';

const LIB = join(dirname(fileURLToPath(import.meta.url)), '../../../lib/host/published-state.js');

describe('published state (service.json, devices.json)', () => {
  let dir;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-published-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const logger = createLogger({ style: 'plain', stream: new PassThrough() });

  it('is written 0600, leaves no temporary, and a link planted at its name is replaced, not followed', () => {
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'precious\n', { mode: 0o644 });
    const path = join(dir, 'usbip', 'service.json');
    publishState(path, { pid: process.pid }, logger);
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(readdirSync(dirname(path))).to.deep.equal(['service.json']);
    rmSync(path);
    symlinkSync(victim, path);
    publishState(path, { pid: process.pid, kernels: [] }, logger);
    expect(readFileSync(victim, 'utf8')).to.equal('precious\n');
    expect(statSync(victim).mode & 0o777).to.equal(0o644);
    expect(lstatSync(path).isSymbolicLink()).to.equal(false);
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).to.deep.equal({ pid: process.pid, kernels: [] });
  });

  it('a damaged file is not believed: not JSON, not an object, no whole positive pid', () => {
    const path = join(dir, 'service.json');
    for (const text of ['{', 'null', '[]', '{"pid":"1"}', '{"pid":0}', '{"pid":1.5}', '{}']) {
      writeFileSync(path, text);
      expect(readPublishedState(path), text).to.equal(undefined);
    }
    writeFileSync(path, JSON.stringify({ pid: process.pid }));
    expect(readPublishedState(path)).to.deep.equal({ pid: process.pid });
    writeFileSync(path, JSON.stringify({ pid: 2 ** 22 + 7 }));
    expect(readPublishedState(path), 'a writer that is gone').to.equal(undefined);
  });

  it('a service state of the wrong shape is reported damaged, naming the field, and not believed', () => {
    const run = join(dir, 'run');
    mkdirSync(join(run, 'usbip'), { recursive: true });
    const path = join(run, 'usbip', 'service.json');
    const good = { pid: process.pid, updated: 'now', nextBoot: null, kernels: [{ kver: '6.1.0-56-amd64', action: 'ready', running: true, nextBoot: true, installed: true }] };
    writeFileSync(path, JSON.stringify(good));
    const warnings = [];
    const ctx = { runDir: run, hostRoot: '/', logger: { warn: (line) => warnings.push(line) } };
    expect(readServiceState(ctx, 'usbip')).to.deep.equal(good);
    for (const [damage, field] of [[{ kernels: 'x' }, 'kernels'], [{ kernels: [{ ...good.kernels[0], action: 'explode' }] }, 'kernels[0].action'], [{ nextBoot: 7 }, 'nextBoot'], [{ kernels: [{ ...good.kernels[0], running: 'yes' }] }, 'kernels[0].running']]) {
      writeFileSync(path, JSON.stringify({ ...good, ...damage }));
      warnings.length = 0;
      expect(readServiceState(ctx, 'usbip'), JSON.stringify(damage)).to.equal(undefined);
      expect(warnings.join('\n')).to.include(path).and.include(field);
    }
  });

  it('a devices state with the tunnel is read back whole; one from before the tunnel field reads as no tunnel; a damaged tunnel is not believed', () => {
    const run = join(dir, 'run');
    mkdirSync(join(run, 'usbip'), { recursive: true });
    const path = join(run, 'usbip', 'devices.json');
    // What the device manager publishes for a running tunnel (the RunningTunnel here a stand-in: bringing up kvcwg needs the kernel's wireguard).
    const running = { publicKey: 'PUB=', peers: () => [{ name: 'imp', publicKey: 'IMP=', address: { text: '10.232.0.2' } }, { name: 'far', publicKey: 'FAR=', address: { text: '10.232.0.3' }, endpoint: '192.0.2.7:51820' }] };
    const tunnel = tunnelState({ address: '10.232.0.1/24', listenPort: 51821 }, running);
    expect(tunnel).to.deep.equal({ interface: 'kvcwg', address: '10.232.0.1/24', port: 51821, publicKey: 'PUB=', peers: [{ name: 'imp', address: '10.232.0.2', endpoint: null }, { name: 'far', address: '10.232.0.3', endpoint: '192.0.2.7:51820' }] });
    const good = { pid: process.pid, updated: 'now', file: '/etc/kvc/usbip.devices', exported: [], missing: [], imports: [], tunnel };
    const warnings = [];
    const ctx = { runDir: run, logger: { warn: (line) => warnings.push(line) } };
    writeFileSync(path, JSON.stringify(good));
    expect(readDevicesState(ctx, 'usbip')).to.deep.equal(good);
    const { tunnel: _left, ...older } = good;
    writeFileSync(path, JSON.stringify(older));
    expect(readDevicesState(ctx, 'usbip')).to.deep.equal({ ...older, tunnel: null });
    for (const [damage, field] of [[{ tunnel: 'kvcwg' }, 'tunnel'], [{ tunnel: { ...tunnel, peers: [{ name: 'imp', address: 7, endpoint: null }] } }, 'tunnel.peers[0].address'], [{ tunnel: { ...tunnel, port: '51820' } }, 'tunnel.port']]) {
      writeFileSync(path, JSON.stringify({ ...good, ...damage }));
      warnings.length = 0;
      expect(readDevicesState(ctx, 'usbip'), JSON.stringify(damage)).to.equal(undefined);
      expect(warnings.join('\n')).to.include(field);
    }
  });

  it('a reader that is not root sees a root writer as running (EPERM is alive)', function () {
    if (process.getuid() !== 0) this.skip();
    const path = join(dir, 'service.json');
    writeFileSync(path, JSON.stringify({ pid: process.pid }));
    chmodSync(dir, 0o755);
    chmodSync(path, 0o644);
    const script = `import(${JSON.stringify(LIB)}).then((m) => console.log(JSON.stringify(m.readPublishedState(${JSON.stringify(path)}, (v) => v) ?? null)))`;
    const result = spawnSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
    expect(result.status, result.stderr).to.equal(0);
    expect(JSON.parse(result.stdout)).to.deep.equal({ pid: process.pid });
    expect(existsSync(path)).to.equal(true);
  });
});
