// Integration (real file systems): a full /var/log must not abort a build (issue 25, item 10;
// before, BuildLog's write threw a raw ENOSPC out of the build). The log is written best-effort:
// the failure is kept and said once, and the failed step's lines are still known.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildLog } from '../../lib/ops/build-log.js';

describe('integration: the build log on a full or missing log folder', function () {
  let dir;
  let mnt;
  before(function () {
    if (process.getuid() !== 0) this.skip();
    dir = mkdtempSync(join(tmpdir(), 'kvc-log-full-'));
    mnt = join(dir, 'log');
    mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'kvc-test-log-full', mnt]);
  });
  after(() => {
    if (mnt !== undefined) execFileSync('umount', [mnt]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('a disk that fills while the build writes: the writes stop, the build does not, and it is said', () => {
    // Leave a few KiB free.
    try { writeFileSync(join(mnt, 'filler'), Buffer.alloc(60 * 1024)); } catch { /* full already */ }
    const log = new BuildLog(join(mnt, 'usbip'), '6.1.0-56-amd64');
    expect(() => {
      for (let i = 0; i < 2000; i += 1) log.write(`[1/2] STEP ${i}/2000: RUN make ${'x'.repeat(100)}`);
      log.write('make: *** [Makefile:1: all] Error 2');
    }).to.not.throw();
    log.close();
    expect(log.lost).to.match(/no space left on device/);
    expect(log.failedStep().step).to.match(/^STEP 1999\/2000: RUN make/);
  });

  it('a log folder that cannot be made: no log, the reason kept', () => {
    writeFileSync(join(dir, 'a-file'), '');
    const log = new BuildLog(join(dir, 'a-file', 'usbip'), '6.1.0-56-amd64');
    expect(() => log.write('line')).to.not.throw();
    expect(log.path).to.equal(undefined);
    expect(log.lost).to.match(/could not be created/);
  });
});
