// --dry-run prints the container commands and touches nothing: no run folder, no lock taken or
// taken over. Real kvc CLI, real podman for the image lookups it skips.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, kvc, makeConfigDir, removeDir } from './harness.js';

describe('--dry-run touches nothing', function () {
  this.timeout(60000);
  let configDir;
  let scratch;
  beforeEach(() => { configDir = makeConfigDir(); scratch = mkdtempSync(join(tmpdir(), 'kvc-dry-')); });
  afterEach(() => { removeDir(configDir); rmSync(scratch, { recursive: true, force: true }); });

  it('creates no run folder, and says what it would build, never that it built', () => {
    const runDir = join(scratch, 'run');
    const result = kvc(['--dry-run', 'build', 'usbip', KVER, '--force'], { configDir, env: { KVC_RUN_DIR: runDir } });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^podman .*build/m);
    expect(result.stderr).to.match(/dry run: would build localhost\/usbip-1\.0\.0:\S+ for kernel /);
    expect(result.stderr).to.match(/dry run: nothing was built/);
    expect(result.stderr).to.not.match(/\bbuilt localhost|\bin \d+ s\b/);
    expect(existsSync(runDir)).to.equal(false);
  });

  it('kvc status is not faked: --dry-run is ignored with a word, the report is the real one', () => {
    const real = kvc(['status', 'usbip', '--json'], { configDir });
    const dry = kvc(['--dry-run', 'status', 'usbip', '--json'], { configDir });
    expect(dry.status, dry.stderr).to.equal(real.status);
    expect(dry.stderr).to.match(/--dry-run ignored: kvc status only reads/);
    expect(dry.stdout).to.not.match(/^podman /m);
    expect(JSON.parse(dry.stdout).instances[0].images).to.deep.equal(JSON.parse(real.stdout).instances[0].images);
  });

  it('neither waits for nor steals a lock another process holds', async () => {
    const runDir = join(scratch, 'run');
    mkdirSync(runDir);
    const lock = join(runDir, 'usbip.lock');
    const holder = spawn('flock', ['--exclusive', '--close', lock, 'sleep', '30']);
    await new Promise((r) => setTimeout(r, 300));
    const result = kvc(['--dry-run', 'build', 'usbip', KVER, '--no-wait', '--force'], { configDir, env: { KVC_RUN_DIR: runDir } });
    expect(result.status, result.stderr).to.equal(0);
    expect(spawnSync('flock', ['--exclusive', '--nonblock', lock, 'true']).status, 'the lock is still held').to.equal(1);
    holder.kill('SIGKILL');
  });
});
