// Unit tests: the host-writes port on real files in a scratch folder: the real writes, and a dry
// run's, which print what they would do and leave the folder as it was.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST_WRITES, dryRunHostWrites } from '../../../lib/host/host-writes.js';
import { isWould } from '../../../lib/host/effect.js';

describe('host writes: the real ones and a dry run\'s', () => {
  let dir;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-host-writes-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a file whole with its mode, replaces it, and removes it (missing is no error)', async () => {
    const path = join(dir, 'a', 'b', 'record');
    expect(await HOST_WRITES.mkdirp(join(dir, 'a', 'b'), 0o700)).to.equal('done');
    expect(await HOST_WRITES.writeFileAtomic(path, 'one\n', 0o600)).to.equal('done');
    expect(await HOST_WRITES.writeFileAtomic(path, 'two\n', 0o600)).to.equal('done');
    expect(readFileSync(path, 'utf8')).to.equal('two\n');
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    expect(readdirSync(join(dir, 'a', 'b'))).to.deep.equal(['record']);
    expect(await HOST_WRITES.remove(path)).to.equal('done');
    expect(await HOST_WRITES.remove(path)).to.equal('done');
    expect(existsSync(path)).to.equal(false);
  });

  it('a whole-file write replaces a link planted at PATH, not following it', async () => {
    const path = join(dir, 'record');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'keep');
    symlinkSync(victim, path);
    await HOST_WRITES.writeFileAtomic(path, 'replaced', 0o600);
    expect(readFileSync(victim, 'utf8')).to.equal('keep');
    expect(readFileSync(path, 'utf8')).to.equal('replaced');
  });

  it('whole-file writes of one path at once all succeed, one writer\'s content is there whole, and no temporary file is left', async () => {
    const path = join(dir, 'record');
    const contents = Array.from({ length: 24 }, (_, i) => `writer ${i}\n`);
    const results = await Promise.allSettled(contents.map((content) => HOST_WRITES.writeFileAtomic(path, content, 0o600)));
    expect(results.filter((result) => result.status === 'rejected').map((result) => result.reason.code)).to.deep.equal([]);
    expect(contents).to.include(readFileSync(path, 'utf8'));
    expect(readdirSync(dir)).to.deep.equal(['record']);
  });

  it('opens a lock file of mode 0600, making its folder, never through a link', () => {
    const path = join(dir, 'run', 'usbip.lock');
    const fd = HOST_WRITES.openLock(path, 0o755);
    expect(fd).to.be.a('number');
    closeSync(fd);
    expect(statSync(path).mode & 0o777).to.equal(0o600);
    symlinkSync(join(dir, 'elsewhere'), join(dir, 'run', 'other.lock'));
    expect(() => HOST_WRITES.openLock(join(dir, 'run', 'other.lock'), 0o755)).to.throw(/ELOOP/);
  });

  it('a dry run prints each write and changes nothing, and opens no lock', async () => {
    const printed = [];
    const host = dryRunHostWrites((line) => printed.push(line));
    let ran = false;
    expect(isWould(await host.mkdirp(join(dir, 'x'), 0o755))).to.equal(true);
    expect(isWould(await host.writeFileAtomic(join(dir, 'x', 'record'), 'data', 0o600))).to.equal(true);
    expect(isWould(await host.writeFile(join(dir, 'policy.json'), '{}', 0o600))).to.equal(true);
    writeFileSync(join(dir, 'kept'), 'kept');
    expect(isWould(await host.remove(join(dir, 'kept')))).to.equal(true);
    expect(isWould(host.openLock(join(dir, 'run', 'usbip.lock'), 0o755))).to.equal(true);
    expect(isWould(await host.apply('create a key', async () => { ran = true; }))).to.equal(true);
    expect(ran).to.equal(false);
    expect(readdirSync(dir)).to.deep.equal(['kept']);
    expect(printed).to.deep.equal([
      `would make the folder ${join(dir, 'x')}`, `would write ${join(dir, 'x', 'record')}`, `would write ${join(dir, 'policy.json')}`,
      `would remove ${join(dir, 'kept')}`, 'would create a key',
    ]);
  });
});
