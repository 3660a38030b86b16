// The host usbip command's attach lock (one attach per remote device at a time) against every
// spelling getopt_long accepts for usbip attach's options: while a first attach of 127.0.0.1's
// 1-1 runs, a second in another spelling is refused. The real script; a stand-in `kvc` beside
// it plays the attach (it sleeps while holding what the script handed it), since this host has
// no USB/IP.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeUsbipHostCommands } from './harness.js';

const SPELLINGS = [
  ['-r', '127.0.0.1', '-b', '1-1'],
  ['-r127.0.0.1', '-b1-1'],
  ['--remote', '127.0.0.1', '--busid', '1-1'],
  ['--remote=127.0.0.1', '--busid=1-1'],
  ['--rem', '127.0.0.1', '--bus', '1-1'],
  ['--r=127.0.0.1', '--b=1-1'],
  ['-b', '1-1', '-r', 'LOCALHOST'],
];

describe('usbip attach: one at a time per device, whatever the spelling', function () {
  this.timeout(60000);
  let bin;
  let runDir;
  before(() => {
    bin = mkdtempSync(join(tmpdir(), 'kvc-attach-'));
    runDir = join(bin, 'run');
    writeUsbipHostCommands(bin);
    writeFileSync(join(bin, 'kvc'), '#!/bin/sh\ncase "$*" in *" attach"*) sleep 4 ;; esac\nexit 0\n');
    chmodSync(join(bin, 'kvc'), 0o755);
  });
  after(() => rmSync(bin, { recursive: true, force: true }));

  const attach = (args) => spawnSync(join(bin, 'usbip'), ['attach', ...args], { encoding: 'utf8', env: { ...process.env, KVC_RUN_DIR: runDir } });

  for (const spelling of SPELLINGS.slice(1)) {
    it(`a second attach spelt "${spelling.join(' ')}" while "${SPELLINGS[0].join(' ')}" runs is refused`, async () => {
      // The first attach and all it starts are one process group, killed together afterwards.
      const first = spawn(join(bin, 'usbip'), ['attach', ...SPELLINGS[0]], { env: { ...process.env, KVC_RUN_DIR: runDir }, detached: true, stdio: 'ignore' });
      const exited = new Promise((r) => first.on('exit', r));
      await new Promise((r) => setTimeout(r, 500));
      const second = attach(spelling);
      process.kill(-first.pid, 'SIGKILL');
      await exited;
      expect(second.status).to.equal(1);
      expect(second.stderr).to.match(/another attach of 1-1 from 127\.0\.0\.1 is in progress; not attaching it twice/);
    });
  }

  it('the lock files are created private (umask 077), appended to, never through a symbolic link', () => {
    const dir = join(runDir, 'usbip/attach');
    for (const name of readdirSync(dir)) expect(lstatSync(join(dir, name)).mode & 0o077, name).to.equal(0);
    rmSync(join(dir, '127.0.0.1_1-1.lock'));
    spawnSync('ln', ['-s', '/etc/passwd', join(dir, '127.0.0.1_1-1.lock')]);
    const result = attach(SPELLINGS[0]);
    expect(result.status).to.equal(1);
    expect(result.stderr).to.match(/is a symbolic link; not using it/);
  });
});
