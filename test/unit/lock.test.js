// Unit tests: the per-instance lock on real files with real processes (a child holds it, dies).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { withInstanceLock, processStart } from '../../lib/ops/lock.js';
import { BusyError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log/logger.js';

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

  it('holds the lock during the operation and removes it afterwards, also on error', async () => {
    const path = join(runDir, 'usbip.lock');
    await withInstanceLock(ctx, 'usbip', 'kvc build usbip 6.1', { wait: false }, async () => {
      expect(readFileSync(path, 'utf8')).to.match(new RegExp(`^${process.pid} \\d+ kvc build usbip 6.1\\n$`));
    });
    expect(existsSync(path)).to.equal(false);
    await withInstanceLock(ctx, 'usbip', 'x', { wait: false }, async () => { throw new Error('boom'); }).catch(() => undefined);
    expect(existsSync(path)).to.equal(false);
  });

  it('with --no-wait, a second operation fails at once naming the holder', async () => {
    await withInstanceLock(ctx, 'usbip', 'kvc build usbip 6.1', { wait: false }, async () => {
      const error = await withInstanceLock(ctx, 'usbip', 'kvc load usbip 6.1', { wait: false }, async () => 'ran').catch((e) => e);
      expect(error).to.be.instanceOf(BusyError);
      expect(error.message).to.equal(`usbip is busy: process ${process.pid} is running \`kvc build usbip 6.1\``);
    });
  });

  it('a second operation waits, saying so once, and runs after the first', async () => {
    const order = [];
    const first = withInstanceLock(ctx, 'usbip', 'first', { wait: true }, async () => {
      order.push('first start');
      await new Promise((r) => setTimeout(r, 700));
      order.push('first end');
    });
    await new Promise((r) => setTimeout(r, 50));
    await withInstanceLock(ctx, 'usbip', 'second', { wait: true }, async () => order.push('second'));
    await first;
    expect(order).to.deep.equal(['first start', 'first end', 'second']);
    expect(logged.filter((line) => line.includes('waiting for process'))).to.have.length(1);
  });

  it('takes over a lock left by a process that died', async () => {
    const child = spawn('sleep', ['30']);
    const start = await processStart(child.pid);
    writeFileSync(join(runDir, 'usbip.lock'), `${child.pid} ${start} kvc build usbip 6.1\n`);
    const blocked = await withInstanceLock(ctx, 'usbip', 'x', { wait: false }, async () => 'ran').catch((e) => e);
    expect(blocked).to.be.instanceOf(BusyError);
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(await withInstanceLock(ctx, 'usbip', 'x', { wait: false }, async () => 'ran')).to.equal('ran');
    expect(logged.join('')).to.match(/taking over the lock of usbip left by process \d+, which is gone/);
  });

  it('does not mistake a reused PID for the holder (start time differs)', async () => {
    writeFileSync(join(runDir, 'usbip.lock'), `${process.pid} 1 kvc build\n`);
    expect(await withInstanceLock(ctx, 'usbip', 'x', { wait: false }, async () => 'ran')).to.equal('ran');
  });
});
