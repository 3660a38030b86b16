// The real kvc CLI on a real pseudo-terminal (util-linux script(1)): its error line is coloured on
// a TTY, and not with NO_COLOR set, nor when stderr is a pipe. No container runtime is reached:
// the instance does not exist.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const MAIN = resolve(new URL('../../../lib/cli/main.js', import.meta.url).pathname);

// Runs `kvc build nosuch` on a TTY (script) or with pipes; returns what it wrote.
function run(env, { tty }) {
  const dir = mkdtempSync(join(tmpdir(), 'kvc-colour-'));
  const argv = [process.execPath, MAIN, '--config-dir', dir, 'build', 'nosuch'];
  try {
    const clean = { PATH: '/usr/bin:/bin', HOME: dir, TERM: 'xterm', ...env };
    if (!tty) return spawnSync(argv[0], argv.slice(1), { env: clean, encoding: 'utf8' }).stderr;
    return spawnSync('script', ['--quiet', '--return', '--command', argv.map((word) => `'${word}'`).join(' '), '/dev/null'], { env: clean, encoding: 'utf8' }).stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('colour: a TTY only, and never with NO_COLOR', function () {
  this.timeout(20000);
  it('colours the error on a TTY', () => expect(run({}, { tty: true })).to.match(/\x1b\[1;31merror:\x1b\[0m unknown instance "nosuch"/));
  it('writes no escape sequence on a TTY with NO_COLOR=1', () => {
    const text = run({ NO_COLOR: '1' }, { tty: true });
    expect(text).to.match(/error: unknown instance "nosuch"/);
    expect(text).to.not.match(/\x1b/);
  });
  it('writes no escape sequence on a TTY with TERM=dumb', () => expect(run({ TERM: 'dumb' }, { tty: true })).to.not.match(/\x1b/));
  it('writes no escape sequence to a pipe', () => {
    const text = run({}, { tty: false });
    expect(text).to.match(/^kvc: error: unknown instance "nosuch"/);
    expect(text).to.not.match(/\x1b/);
  });
});
