// Unit tests, on data: what the service does when the devices file changes while it runs (issue
// 23): which changes it takes over live, and whose imports it cuts when a client is removed.
import { expect } from 'chai';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDevicesFile } from '../../../lib/usbip/devices-file.js';
import { planReload, revokedImports } from '../../../lib/usbip/reload-plan.js';
import { watchDevicesFile } from '../../../lib/usbip/devices-file-watch.js';

const PATH = '/etc/kvc/usbip.devices';
const EXPORTS = '[export.disk-a]\ndevice = 46f4:0001\nserial = A\nclients = 10.77.0.2\n\n[export.disk-b]\ndevice = 46f4:0001\nserial = B\nclients = 10.77.0.2, 10.77.1.0/24\n\n';
const parse = (text) => parseDevicesFile(PATH, text);
const clientsOf = (config) => new Map(config.exports.map((rule) => [rule.name, rule.clients]));

describe('usbip reload plan: the devices file changed while the service runs', () => {
  it('a change of an export\'s clients is taken over live; the same text is nothing to do', () => {
    const running = parse(EXPORTS);
    expect(planReload(running, parse(EXPORTS))).to.deep.equal({ kind: 'same' });
    expect(planReload(running, parse(EXPORTS.replace('clients = 10.77.0.2\n', 'clients = 10.77.0.9\n')))).to.deep.equal({ kind: 'exports' });
    expect(planReload(running, parse(`${EXPORTS}[export.c]\nport = 1-4\nclients = any\n`))).to.deep.equal({ kind: 'exports' });
  });

  it('imports, [server] and exports coming or all going need a restart, and say which', () => {
    const running = parse(EXPORTS);
    expect(planReload(running, parse(`${EXPORTS}[import.x]\nserver = 10.77.0.1\nbusid = 1-1\n`))).to.deep.equal({ kind: 'restart', why: 'the imports' });
    expect(planReload(running, parse(`${EXPORTS}[server]\nlisten = 10.77.0.1\n`))).to.deep.equal({ kind: 'restart', why: '[server]' });
    expect(planReload(running, parse('[import.x]\nserver = 10.77.0.1\nbusid = 1-1\n'))).to.deep.equal({ kind: 'restart', why: 'the imports, no exports left' });
    expect(planReload(parse('[import.x]\nserver = 10.77.0.1\nbusid = 1-1\n'), parse(`${EXPORTS}[import.x]\nserver = 10.77.0.1\nbusid = 1-1\n`))).to.deep.equal({ kind: 'restart', why: 'exports where there were none' });
  });

  it('cuts exactly the imports whose peer the export no longer names (address, CIDR), and nothing unjudgeable', () => {
    const exported = [
      { rule: 'disk-a', busid: '2-1', state: 'imported', importedBy: '10.77.0.2' },
      { rule: 'disk-b', busid: '2-2', state: 'imported', importedBy: '10.77.1.5' },
      { rule: 'disk-b', busid: '2-3', state: 'exported', importedBy: null },
      { rule: 'gone', busid: '2-4', state: 'imported', importedBy: '10.77.0.2' },
      { rule: 'disk-a', busid: '2-5', state: 'imported', importedBy: null },
    ];
    expect(revokedImports(exported, clientsOf(parse(EXPORTS)))).to.deep.equal([]);
    const next = parse(EXPORTS.replace('clients = 10.77.0.2\n', 'clients = 10.77.0.9\n').replace('10.77.0.2, 10.77.1.0/24', '10.77.0.2'));
    expect(revokedImports(exported, clientsOf(next))).to.deep.equal([
      { rule: 'disk-a', busid: '2-1', peer: '10.77.0.2' },
      { rule: 'disk-b', busid: '2-2', peer: '10.77.1.5' },
    ]);
    // `clients = any` names everyone; loopback (the host itself) is always named.
    expect(revokedImports(exported, clientsOf(parse(EXPORTS.replace(/clients = .*/g, 'clients = any'))))).to.deep.equal([]);
    expect(revokedImports([{ rule: 'disk-a', busid: '2-1', state: 'imported', importedBy: '127.0.0.1' }], clientsOf(next))).to.deep.equal([]);
  });
});

describe('usbip devices file watch', () => {
  let dir;
  let stop;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-watch-')); stop = new AbortController(); });
  afterEach(() => { stop.abort(); rmSync(dir, { recursive: true, force: true }); });
  const settle = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // Waits until the count reaches n (on a loaded machine the events may be read late), then as long
  // again as before for a double report to show.
  const reach = async (count, n) => {
    for (const start = Date.now(); count() < n && Date.now() - start < 10_000;) await settle(10);
    await settle(200);
  };

  it('sees a write in place and an editor\'s write-and-rename, once per burst, and not other files', async () => {
    const path = join(dir, 'usbip.devices');
    writeFileSync(path, EXPORTS);
    let calls = 0;
    watchDevicesFile(path, () => { calls += 1; }, stop.signal, 50);
    writeFileSync(join(dir, 'usbip.conf'), 'x');
    await settle(200);
    expect(calls).to.equal(0);
    writeFileSync(path, EXPORTS);
    writeFileSync(path, EXPORTS);
    await reach(() => calls, 1);
    expect(calls).to.equal(1);
    writeFileSync(join(dir, 'sedTmp'), EXPORTS);
    renameSync(join(dir, 'sedTmp'), path);
    await reach(() => calls, 2);
    expect(calls).to.equal(2);
    stop.abort();
    writeFileSync(path, EXPORTS);
    await settle(200);
    expect(calls).to.equal(2);
  });
});
