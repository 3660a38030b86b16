// Unit test of usbip's port records in the host folder bound at /run/vhci_hcd in the tools
// container (src/usbip/tool-records.ts), on a real folder: the records as `usbip attach` writes
// them, and what a subverted tools container could plant there (a link out of the folder, a FIFO,
// a big file). That the tool in the container reads what kvc writes is proven in the two-guest
// end-to-end test (`usbip port` names the server of a port kvc attached).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, lstatSync, utimesSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatToolRecord, ToolPortRecords } from '../../../lib/usbip/tool-records.js';

describe("usbip's port records in kvc's host folder (a real folder)", () => {
  let dir;
  let records;
  let outside;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-tool-records-'));
    records = new ToolPortRecords(join(dir, 'tools-state/run/vhci_hcd'));
    outside = join(dir, 'host-file');
    writeFileSync(outside, 'the host\'s own file\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a record as usbip attach writes it ("host port busid"), with when it was written', async () => {
    mkdirSync(records.dir, { recursive: true });
    writeFileSync(join(records.dir, 'port3'), '10.77.0.1 3240 2-4\n');
    utimesSync(join(records.dir, 'port3'), 1000, 1000);
    expect(await records.read(3)).to.deep.equal({ record: { host: '10.77.0.1', port: '3240', busid: '2-4' }, writtenMs: 1_000_000 });
    expect(await records.read(2)).to.equal(undefined);
  });

  it('writes one in the same form, making the folder; leaves no temporary file behind', async () => {
    await records.write(0, { host: '10.77.0.1', port: '3240', busid: '2-4' });
    expect(readFileSync(join(records.dir, 'port0'), 'utf8')).to.equal('10.77.0.1 3240 2-4\n');
    expect(readdirSync(records.dir)).to.deep.equal(['port0']);
    expect((await records.read(0)).record).to.deep.equal({ host: '10.77.0.1', port: '3240', busid: '2-4' });
  });

  it('forgets a record only while it says what kvc wrote; a link there is removed, never what it points to', async () => {
    await records.write(0, { host: '10.77.0.1', port: '3240', busid: '2-4' });
    await records.forget(0, { host: '10.77.0.1', port: '3240', busid: '2-5' });
    expect(readdirSync(records.dir)).to.deep.equal(['port0']);
    await records.forget(0, { host: '10.77.0.1', port: '3240', busid: '2-4' });
    expect(readdirSync(records.dir)).to.deep.equal([]);
  });

  it('refuses to write what could not be read back as one record', () => {
    for (const bad of [{ host: 'a b', port: '3240', busid: '1-1' }, { host: 'a', port: '', busid: '1-1' }, { host: 'a', port: '3240', busid: '1-1\nx y z' }]) {
      expect(() => formatToolRecord(bad), JSON.stringify(bad)).to.throw(RangeError);
    }
  });

  it('a link planted at a port\'s name is replaced by the write, never followed (the host file is untouched)', async () => {
    mkdirSync(records.dir, { recursive: true });
    symlinkSync(outside, join(records.dir, 'port1'));
    expect(await records.read(1)).to.equal(undefined);
    await records.write(1, { host: '10.77.0.1', port: '3240', busid: '2-4' });
    expect(readFileSync(outside, 'utf8')).to.equal('the host\'s own file\n');
    expect(lstatSync(join(records.dir, 'port1')).isSymbolicLink()).to.equal(false);
    expect(readFileSync(join(records.dir, 'port1'), 'utf8')).to.equal('10.77.0.1 3240 2-4\n');
  });

  it('a FIFO planted at a port\'s name does not hold the read; a big file is not read', async () => {
    mkdirSync(records.dir, { recursive: true });
    expect(spawnSync('mkfifo', [join(records.dir, 'port2')]).status).to.equal(0);
    const started = Date.now();
    expect(await records.read(2)).to.equal(undefined);
    expect(Date.now() - started).to.be.lessThan(1000);
    writeFileSync(join(records.dir, 'port4'), `10.77.0.1 3240 2-4${' '.repeat(5000)}\n`);
    expect(await records.read(4)).to.equal(undefined);
  });
});
