// Unit tests: the per-instance lock on real files with real processes (a child holds it, dies).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { withInstanceLock } from '../../../lib/ops/lock.js';
import { dryRunHostWrites } from '../../../lib/host/host-writes.js';

// Whether another open file description of path is flock-ed (asked of util-linux flock itself).
const flockHeld = (path) => spawnSync('flock', ['--exclusive', '--nonblock', path, 'true']).status !== 0;
// Waits (polling, 10 s at most) until a condition holds: no fixed sleep a loaded machine may outrun.
const until = async (condition, what) => {
  for (const start = Date.now(); !condition();) {
    if (Date.now() - start > 10_000) throw new Error(`${what}: not so after 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
import { BusyError } from '../../../lib/errors.js';
import { createLogger } from '../../../lib/log/logger.js';

describe('lock: one operation per instance', function () {
  this.timeout(10000);
  let runDir;
  let logged;
  let ctx;
  beforeEach(() => {
    runDir = mkdtempSync(join(tmpdir(), 'kvc-lock-'));
    logged = [];
    const stream = new PassThrough();
    stream.on('data', (chunk) => logged.push(String(chunk)));
    ctx = { runDir, logger: createLogger({ style: 'plain', stream }) };
  });
  afterEach(() => rmSync(runDir, { recursive: true, force: true }));

  it('holds the lock during the operation, in a file of mode 0600 that stays, and releases it also on error', async () => {
    const path = join(runDir, 'usbip.lock');
    await withInstanceLock(ctx, 'usbip', 'kvc build usbip 6.1', { wait: false }, async () => {
      expect(readFileSync(path, 'utf8')).to.equal(`${process.pid} kvc build usbip 6.1\n`);
      expect(statSync(path).mode & 0o777).to.equal(0o600);
      expect(flockHeld(path)).to.equal(true);
    });
    expect(flockHeld(path)).to.equal(false);
    await withInstanceLock(ctx, 'usbip', 'x', { wait: false }, async () => { throw new Error('boom'); }).catch(() => undefined);
    expect(flockHeld(path)).to.equal(false);
  });

  it('with --no-wait, a second operation fails at once naming the holder', async () => {
    await withInstanceLock(ctx, 'usbip', 'kvc build usbip 6.1', { wait: false }, async () => {
      const error = await withInstanceLock(ctx, 'usbip', 'kvc load usbip 6.1', { wait: false }, async () => 'ran').catch((e) => e);
      expect(error).to.be.instanceOf(BusyError);
      expect(error.exitStatus).to.equal(75);
      expect(error.message).to.equal(`usbip is busy: process ${process.pid} (\`kvc build usbip 6.1\`) holds it`);
    });
  });

  it('a second operation waits, saying so once, and runs after the first', async () => {
    const order = [];
    let release;
    const first = withInstanceLock(ctx, 'usbip', 'first', { wait: true }, async () => {
      order.push('first start');
      await new Promise((r) => { release = r; });
      order.push('first end');
    });
    await until(() => release !== undefined, 'the first holds the lock');
    const second = withInstanceLock(ctx, 'usbip', 'second', { wait: true }, async () => order.push('second'));
    await until(() => logged.some((line) => line.includes('waiting for process')), 'the second waits');
    expect(order).to.deep.equal(['first start']);
    release();
    await Promise.all([first, second]);
    expect(order).to.deep.equal(['first start', 'first end', 'second']);
    expect(logged.filter((line) => line.includes('waiting for process'))).to.have.length(1);
  });

  it('a wait is cancelled by the lifetime signal', async () => {
    const holder = spawn('flock', ['--exclusive', '--close', join(runDir, 'usbip.lock'), 'sleep', '30']);
    await until(() => flockHeld(join(runDir, 'usbip.lock')), 'the child holds the lock');
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stopping')), 200);
    const error = await withInstanceLock({ ...ctx, signal: controller.signal }, 'usbip', 'x', { wait: true }, async () => 'ran').catch((e) => e);
    expect(error.message).to.equal('stopping');
    holder.kill('SIGKILL');
  });

  it('a holder killed with SIGKILL releases it at once; its stale description decides nothing', async () => {
    const path = join(runDir, 'usbip.lock');
    const child = spawn('flock', ['--exclusive', '--close', path, 'sleep', '30']);
    await until(() => flockHeld(path), 'the child holds the lock');
    writeFileSync(path, `${child.pid} kvc build usbip 6.1\n`);
    const blocked = await withInstanceLock(ctx, 'usbip', 'x', { wait: false }, async () => 'ran').catch((e) => e);
    expect(blocked).to.be.instanceOf(BusyError);
    expect(blocked.message).to.contain(`process ${child.pid}`);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(await withInstanceLock(ctx, 'usbip', 'x', { wait: false }, async () => 'ran')).to.equal('ran');
  });

  it('a description naming a live process does not hold the lock (only flock does)', async () => {
    writeFileSync(join(runDir, 'usbip.lock'), `${process.pid} kvc build\n`);
    expect(await withInstanceLock(ctx, 'usbip', 'x', { wait: false }, async () => 'ran')).to.equal('ran');
  });

  it('refuses a lock path that is a symbolic link', async () => {
    symlinkSync('/etc/passwd', join(runDir, 'usbip.lock'));
    const error = await withInstanceLock(ctx, 'usbip', 'x', { wait: false }, async () => 'ran').catch((e) => e);
    expect(error.code).to.equal('ELOOP');
  });

  it('--dry-run (its host writes) creates and locks nothing', async () => {
    const missing = join(runDir, 'not-there');
    const printed = [];
    expect(await withInstanceLock({ ...ctx, runDir: missing, host: dryRunHostWrites((line) => printed.push(line)) }, 'usbip', 'x', { wait: false }, async () => 'ran')).to.equal('ran');
    expect(existsSync(missing)).to.equal(false);
  });
});
