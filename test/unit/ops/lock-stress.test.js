// The instance lock under contention, with real processes and real files: 6 processes take it 50
// times each; every holder logs enter/leave with the monotonic clock (CLOCK_MONOTONIC, shared by
// all processes). No two holders may overlap, with or without a lock file left by a holder that
// was killed with SIGKILL while holding it.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CONTENDER = new URL('../../fixtures/lock-contender.mjs', import.meta.url).pathname;
const PROCESSES = 6;
const ROUNDS = 50;

function run(runDir, log, rounds) {
  const child = spawn(process.execPath, [CONTENDER, runDir, log, String(rounds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  return { child, exited };
}

// The intervals in the log, and how many of them overlap another.
function overlaps(log) {
  const open = new Map();
  const intervals = [];
  for (const line of readFileSync(log, 'utf8').trim().split('\n')) {
    const [what, time, pid] = line.split(' ');
    if (what === 'enter') open.set(pid, BigInt(time));
    else if (open.has(pid)) {
      intervals.push([open.get(pid), BigInt(time), pid]);
      open.delete(pid);
    }
  }
  intervals.sort((a, b) => (a[0] < b[0] ? -1 : 1));
  let overlapping = 0;
  for (let i = 1; i < intervals.length; i++) if (intervals[i][0] < intervals[i - 1][1]) overlapping++;
  return { intervals: intervals.length, overlapping };
}

describe('lock under contention (real processes, real files)', function () {
  this.timeout(120000);
  let runDir;
  beforeEach(() => { runDir = mkdtempSync(join(tmpdir(), 'kvc-lock-stress-')); });
  afterEach(() => rmSync(runDir, { recursive: true, force: true }));

  it(`${PROCESSES} processes × ${ROUNDS} acquisitions: never two holders at once`, async () => {
    const log = join(runDir, 'log');
    const runs = Array.from({ length: PROCESSES }, () => run(runDir, log, ROUNDS));
    expect(await Promise.all(runs.map((r) => r.exited))).to.deep.equal(Array(PROCESSES).fill(0));
    expect(overlaps(log)).to.deep.equal({ intervals: PROCESSES * ROUNDS, overlapping: 0 });
  });

  it('…and the same after a holder was killed with SIGKILL while holding it', async () => {
    const log = join(runDir, 'log');
    const holder = run(runDir, join(runDir, 'holder-log'), 'hold');
    await new Promise((resolve) => holder.child.stdout.once('data', resolve));
    const inode = statSync(join(runDir, 'stress.lock')).ino;
    holder.child.kill('SIGKILL');
    await holder.exited;
    const runs = Array.from({ length: PROCESSES }, () => run(runDir, log, ROUNDS));
    expect(await Promise.all(runs.map((r) => r.exited))).to.deep.equal(Array(PROCESSES).fill(0));
    expect(overlaps(log)).to.deep.equal({ intervals: PROCESSES * ROUNDS, overlapping: 0 });
    expect(statSync(join(runDir, 'stress.lock')).ino, 'the lock file is never removed or replaced').to.equal(inode);
  });
});
