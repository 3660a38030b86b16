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

  it('creates no run folder', () => {
    const runDir = join(scratch, 'run');
    const result = kvc(['--dry-run', 'build', 'usbip', KVER, '--force'], { configDir, env: { KVC_RUN_DIR: runDir } });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^podman .*build/m);
    expect(existsSync(runDir)).to.equal(false);
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
