// The tools PID attack: the tools container is gone and its PID now belongs to an unprivileged
// user's process in its own user and mount namespace, whose /usr/sbin/usbip is the user's program.
// Neither the host `usbip` command nor `kvc wrapper` may run it (as root): both must see that the
// process is not the one kvc started and take the slow path. Real processes, real namespaces
// (unshare as uid 65534), the real host script and kvc CLI.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, CONTAINERS_CONF, writeUsbipHostCommands, ensureUsbipImage, kvc, makeConfigDir, removeDir } from './harness.js';

describe('a reused tools PID is never entered', function () {
  this.timeout(120000);
  let scratch;
  let attacker;
  let attackerPid;
  let runDir;
  let configDir;
  const marker = () => join(scratch, 'pwned');

  before(async () => {
    ensureUsbipImage();
    scratch = mkdtempSync(join(tmpdir(), 'kvc-attack-'));
    chmodSync(scratch, 0o1777);
    // The attacker: uid 65534, its own user and mount namespace, a fake /usr/sbin/usbip that
    // records who ran it. It prints its PID once ready.
    const fake = `#!/bin/sh\nid -u > ${marker()}\n`;
    attacker = spawn('setpriv', ['--reuid', '65534', '--regid', '65534', '--clear-groups', 'unshare', '-Urm', 'sh', '-c',
      `mount -t tmpfs none /usr/sbin && printf '%s' '${fake}' > /usr/sbin/usbip && chmod 755 /usr/sbin/usbip && echo $$ && exec sleep 300`], { stdio: ['ignore', 'pipe', 'inherit'] });
    attackerPid = Number(await new Promise((resolve) => attacker.stdout.once('data', (d) => resolve(String(d).trim()))));
    runDir = join(scratch, 'run');
    mkdirSync(join(runDir, 'usbip'), { recursive: true, mode: 0o755 });
    chmodSync(runDir, 0o755);
    configDir = makeConfigDir();
  });
  after(() => {
    attacker.kill('SIGKILL');
    removeDir(configDir);
    rmSync(scratch, { recursive: true, force: true });
  });
  afterEach(() => rmSync(marker(), { force: true }));

  const startOf = (pid) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
  // What a stale record looks like once its PID is reused: the old container's start time and
  // mount namespace (here made-up ones), or, worse, the attacker's own (as if kvc had recorded it).
  const records = {
    'a stale record (start time and namespace of the dead container)': () => `${attackerPid} 12345 4026531840 ${KVER}\n`,
    'a record matching the process in every field but its owner': () => `${attackerPid} ${startOf(attackerPid)} ${statSync(`/proc/${attackerPid}/ns/mnt`).ino} ${KVER}\n`,
  };

  for (const [what, record] of Object.entries(records)) {
    it(`host usbip: ${what} → the attacker's program does not run, the slow path is taken`, () => {
      writeFileSync(join(runDir, 'usbip', 'tools.pid'), record(), { mode: 0o644 });
      const bin = join(scratch, 'bin');
      mkdirSync(bin, { recursive: true });
      writeUsbipHostCommands(bin);
      writeFileSync(join(bin, 'kvc'), `#!/bin/sh\necho "slow path: kvc $*"\n`);
      chmodSync(join(bin, 'kvc'), 0o755);
      const result = spawnSync(join(bin, 'usbip'), ['version'], { encoding: 'utf8', env: { ...process.env, KVC_RUN_DIR: runDir } });
      expect(existsSync(marker()), `the attacker's usbip ran as uid ${existsSync(marker()) ? readFileSync(marker(), 'utf8').trim() : ''}`).to.equal(false);
      expect(result.stdout).to.match(/^slow path: kvc wrapper usbip \S+ \/usr\/sbin\/usbip version$/m);
    });

    it(`kvc wrapper: ${what} → the attacker's program does not run; the tool runs from the image`, () => {
      writeFileSync(join(runDir, 'usbip', 'tools.pid'), record(), { mode: 0o644 });
      const result = kvc(['wrapper', 'usbip', KVER, 'usbip', 'version'], { configDir, env: { KVC_RUN_DIR: runDir, CONTAINERS_CONF } });
      expect(existsSync(marker())).to.equal(false);
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/^usbip \(usbip-utils [0-9.]+\)/);
    });
  }

  it('a record in a file others may write is not believed', () => {
    writeFileSync(join(runDir, 'usbip', 'tools.pid'), records['a record matching the process in every field but its owner'](), { mode: 0o666 });
    chmodSync(join(runDir, 'usbip', 'tools.pid'), 0o666);
    const result = kvc(['wrapper', 'usbip', KVER, 'usbip', 'version'], { configDir, env: { KVC_RUN_DIR: runDir, CONTAINERS_CONF } });
    expect(existsSync(marker())).to.equal(false);
    expect(result.status, result.stderr).to.equal(0);
  });
});
