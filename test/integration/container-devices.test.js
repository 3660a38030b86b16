// Giving one running container exactly some device nodes, on the real podman with real containers:
// two containers A and B, both allowed by their cgroup rules every loop device (b 7:*, as a USB
// consumer is allowed a whole major), each given one loop device backed by a file of its own.
// Each reads its own, sees none of the other's and cannot make one. Refusals, the link and PID
// attacks, revoke and the watch that tells when a container is gone.
import { expect } from 'chai';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CONTAINERS_CONF, podman } from './harness.js';
import { ContainerRuntime } from '../../lib/runtime/container-runtime.js';
import { createLogger } from '../../lib/log/logger.js';
import { ContainerRefusedError, UsageError } from '../../lib/errors.js';
import { describeGrant, grantDevice, grantToProcess, revokeDevice, waitForContainerGone } from '../../lib/devices/grants.js';

const BASE = 'docker.io/library/debian:bookworm-slim';
const PREFIX = 'kvc-devtest';
const A = `${PREFIX}-a`;
const B = `${PREFIX}-b`;
const SAFE = ['--cap-drop=mknod', "--device-cgroup-rule=b 7:* rw"];

const run = (name, flags) => podman(['run', '--detach', '--name', name, ...flags, BASE, 'sleep', 'infinity']).trim();
const remove = (...names) => { for (const name of names) spawnSync('podman', ['rm', '--force', '--time=0', name], { env: { ...process.env, CONTAINERS_CONF } }); };
// Runs a command in a container; { status, stdout, stderr }.
const exec = (name, command) => {
  const result = spawnSync('podman', ['exec', name, ...command], { env: { ...process.env, CONTAINERS_CONF }, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
};
const deviceOf = (path) => {
  const info = statSync(path);
  return { type: 'b', major: Math.floor(info.rdev / 256) & 0xfff, minor: (info.rdev & 0xff) | ((info.rdev >> 12) & ~0xff) };
};
const refusal = async (promise) => {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a refusal, got a grant');
};

describe('container devices: one container gets exactly its nodes (real podman, two containers)', function () {
  this.timeout(120000);
  const runtime = new ContainerRuntime('podman', { logger: createLogger({ style: 'plain' }), env: { ...process.env, CONTAINERS_CONF } });
  let scratch;
  const loops = [];
  let X; // A's device: a loop device over a file of 'A's
  let Y; // B's device: a loop device over a file of 'B's

  before(() => {
    scratch = mkdtempSync(join(tmpdir(), 'kvc-devtest-'));
    for (const letter of ['A', 'B']) {
      const file = join(scratch, `${letter}.img`);
      writeFileSync(file, letter.repeat(4096));
      loops.push(execFileSync('losetup', ['--find', '--show', file], { encoding: 'utf8' }).trim());
    }
    X = deviceOf(loops[0]);
    Y = deviceOf(loops[1]);
    remove(A, B);
    run(A, SAFE);
    run(B, SAFE);
  });
  after(() => {
    remove(A, B, `${PREFIX}-caps`, `${PREFIX}-priv`, `${PREFIX}-norule`, `${PREFIX}-stopped`, `${PREFIX}-sysadmin`, `${PREFIX}-userns`, `${PREFIX}-gone`);
    for (const loop of loops) spawnSync('losetup', ['--detach', loop]);
    rmSync(scratch, { recursive: true, force: true });
  });

  describe('attacks (written first)', () => {
    it("a link the container put at /dev/<name> is not followed: nothing is made on the host, the grant is refused", async () => {
      const outside = join(scratch, 'made-through-link');
      const victim = join(scratch, 'victim');
      writeFileSync(victim, 'host data\n', { mode: 0o600 });
      const before = statSync(victim);
      expect(exec(A, ['ln', '-s', outside, '/dev/kvc-link']).status).to.equal(0);
      expect(exec(A, ['ln', '-s', victim, '/dev/kvc-link2']).status).to.equal(0);
      for (const name of ['kvc-link', 'kvc-link2']) {
        const error = await refusal(grantDevice(runtime, A, X, name));
        expect(error).to.be.instanceOf(ContainerRefusedError);
        expect(error.reason).to.equal('name-taken');
        expect(error.message).to.include('a symbolic link');
      }
      expect(existsSync(outside), 'a node was made on the host through the link').to.equal(false);
      const after = statSync(victim);
      expect({ mode: after.mode, uid: after.uid, rdev: after.rdev, size: after.size }).to.deep.equal({ mode: before.mode, uid: before.uid, rdev: before.rdev, size: before.size });
      expect(exec(A, ['sh', '-c', 'test -L /dev/kvc-link && test -L /dev/kvc-link2']).status).to.equal(0);
      exec(A, ['rm', '-f', '/dev/kvc-link', '/dev/kvc-link2']);
    });

    it('a name with a folder is refused, so a folder the container made a link to the host is never walked', async () => {
      const hostDir = mkdtempSync(join(scratch, 'target-'));
      expect(exec(A, ['ln', '-s', hostDir, '/dev/kvc-sub']).status).to.equal(0);
      const error = await refusal(grantDevice(runtime, A, X, 'kvc-sub/node'));
      expect(error).to.be.instanceOf(UsageError);
      expect(readdirSync(hostDir), 'a node was made in the host folder').to.deep.equal([]);
      exec(A, ['rm', '-f', '/dev/kvc-sub']);
    });

    it("a PID that is not the container's process any more is not written into, even one that looks like a container", async () => {
      const access = await runtime.inspectContainerAccess(A);
      // What the PID could belong to once A is gone: a host process in a mount namespace of its own
      // with a tmpfs at /dev and without CAP_MKNOD and CAP_SYS_ADMIN, as A's process has.
      const impostor = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c',
        'mount -t tmpfs none /dev && echo ready && exec setpriv --bounding-set=-mknod,-sys_admin sleep 60'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise((resolve) => impostor.stdout.once('data', resolve));
      await new Promise((resolve) => setTimeout(resolve, 200));
      try {
        const error = await refusal(grantToProcess(A, { ...access, pid: impostor.pid }, X, 'kvc-reused'));
        expect(error).to.be.instanceOf(ContainerRefusedError);
        expect(error.reason).to.equal('gone');
        expect(existsSync(`/proc/${impostor.pid}/root/dev/kvc-reused`), "a node was made in the other process's /dev").to.equal(false);
        expect(existsSync('/dev/kvc-reused'), 'a node was made in the host /dev').to.equal(false);
      } finally {
        impostor.kill('SIGKILL');
      }
    });
  });

  describe('grants', () => {
    let grantA;
    let grantB;
    before(async () => {
      grantA = await grantDevice(runtime, A, X, 'kvc-x');
      grantB = await grantDevice(runtime, B, Y, 'kvc-y');
    });

    it('says exactly what was granted', () => {
      expect(grantA).to.include({ container: A, path: '/dev/kvc-x', mode: 0o660, uid: 0, gid: 0, name: 'kvc-x' });
      expect(grantA.device).to.deep.equal(X);
      expect(grantA.cgroupAllows).to.deep.equal(['b 7:* rw']);
      expect(describeGrant(grantA)).to.equal(`${A} has /dev/kvc-x: block device 7:${X.minor}, mode 0660, owner 0:0, in its own /dev only (kvc made no other node; the container cannot make one: no CAP_MKNOD); its device cgroup rules let it open b 7:* rw`);
    });

    for (const [self, other, mine, theirs, letter] of [[A, B, 'kvc-x', 'kvc-y', 'A'], [B, A, 'kvc-y', 'kvc-x', 'B']]) {
      it(`${self}: reads its own node (${mine}), root's, mode 0660`, () => {
        const ls = exec(self, ['stat', '-c', '%F %a %u:%g', `/dev/${mine}`]);
        expect(ls.stdout.trim()).to.equal('block special file 660 0:0');
        const read = exec(self, ['head', '-c4', `/dev/${mine}`]);
        expect(read.status, read.stderr).to.equal(0);
        expect(read.stdout).to.equal(letter.repeat(4));
      });

      it(`${self}: has no node of ${other}'s (${theirs}) and cannot make one (EPERM)`, () => {
        expect(exec(self, ['test', '-e', `/dev/${theirs}`]).status).to.equal(1);
        const device = self === A ? Y : X;
        const made = exec(self, ['mknod', `/dev/${theirs}`, 'b', String(device.major), String(device.minor)]);
        expect(made.status).to.not.equal(0);
        expect(made.stderr).to.match(/Operation not permitted/);
        expect(exec(self, ['test', '-e', `/dev/${theirs}`]).status).to.equal(1);
        // Its /dev holds only podman's own entries and its grant.
        const entries = exec(self, ['ls', '-A', '/dev']).stdout.split('\n').filter((entry) => entry !== '');
        expect(entries.filter((entry) => entry.startsWith('kvc-'))).to.deep.equal([mine]);
      });
    }

    it('the same name again is refused (name-taken), the first node kept', async () => {
      const error = await refusal(grantDevice(runtime, A, X, 'kvc-x'));
      expect(error.reason).to.equal('name-taken');
      expect(exec(A, ['head', '-c1', '/dev/kvc-x']).stdout).to.equal('A');
    });

    it('revoke removes the node; revoke again finds it absent', async () => {
      expect(await revokeDevice(grantB)).to.equal('removed');
      expect(exec(B, ['test', '-e', '/dev/kvc-y']).status).to.equal(1);
      expect(await revokeDevice(grantB)).to.equal('absent');
    });

    it('revoke leaves alone what the container put in the node\'s place', async () => {
      exec(A, ['sh', '-c', 'rm /dev/kvc-x && ln -s /dev/null /dev/kvc-x']);
      expect(await revokeDevice(grantA)).to.equal('replaced');
      expect(exec(A, ['test', '-L', '/dev/kvc-x']).status).to.equal(0);
      exec(A, ['rm', '-f', '/dev/kvc-x']);
    });
  });

  describe('refusals: the typed error with the podman flags, nothing made', () => {
    const hintFlags = "--cap-drop=mknod --device-cgroup-rule='b 7:* rw'";
    const cases = [
      ['default capabilities (CAP_MKNOD)', `${PREFIX}-caps`, ["--device-cgroup-rule=b 7:* rw"], 'can-mknod'],
      ['privileged', `${PREFIX}-priv`, ['--privileged'], 'privileged'],
      ['CAP_SYS_ADMIN (could mount a devtmpfs)', `${PREFIX}-sysadmin`, [...SAFE, '--cap-add=sys_admin'], 'can-mount'],
      ['a user namespace of its own', `${PREFIX}-userns`, [...SAFE, '--uidmap=0:200000:65536', '--gidmap=0:200000:65536'], 'user-namespace'],
      ['no cgroup rule for the device', `${PREFIX}-norule`, ['--cap-drop=mknod', '--device-cgroup-rule=c 188:* rw'], 'cgroup-rule'],
    ];
    for (const [what, name, flags, reason] of cases) {
      it(`${what} → ${reason}`, async () => {
        run(name, flags);
        const error = await refusal(grantDevice(runtime, name, X, 'kvc-x'));
        expect(error).to.be.instanceOf(ContainerRefusedError);
        expect(error.reason).to.equal(reason);
        expect(error.exitStatus).to.equal(69);
        expect(error.hint).to.include(hintFlags);
        expect(exec(name, ['test', '-e', '/dev/kvc-x']).status).to.equal(1);
        remove(name);
      });
    }

    it('a stopped container → not-running', async () => {
      podman(['create', '--name', `${PREFIX}-stopped`, ...SAFE, BASE, 'sleep', 'infinity']);
      const error = await refusal(grantDevice(runtime, `${PREFIX}-stopped`, X, 'kvc-x'));
      expect(error.reason).to.equal('not-running');
      expect(error.hint).to.include(`podman start ${PREFIX}-stopped`);
      remove(`${PREFIX}-stopped`);
    });

    it('no such container → no-such-container', async () => {
      const error = await refusal(grantDevice(runtime, `${PREFIX}-nonesuch`, X, 'kvc-x'));
      expect(error.reason).to.equal('no-such-container');
    });
  });

  describe('the watch', () => {
    it('resolves after `podman rm -f`; revoke is then callable and says the container is gone', async () => {
      const name = `${PREFIX}-gone`;
      run(name, SAFE);
      const grant = await grantDevice(runtime, name, X, 'kvc-x');
      let resolved = false;
      const watch = waitForContainerGone(grant, { intervalMs: 200 }).then(() => { resolved = true; });
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(resolved, 'resolved while the container runs').to.equal(false);
      remove(name);
      const started = Date.now();
      await watch;
      expect(Date.now() - started).to.be.below(5000);
      expect(await revokeDevice(grant)).to.equal('container-gone');
    });

    it('rejects with the abort reason when aborted first', async () => {
      const grant = await grantDevice(runtime, A, X, 'kvc-watched');
      const controller = new AbortController();
      const watch = waitForContainerGone(grant, { intervalMs: 200, signal: controller.signal });
      setTimeout(() => controller.abort(new Error('stop watching')), 300);
      const error = await refusal(watch);
      expect(error.message).to.equal('stop watching');
      expect(await revokeDevice(grant)).to.equal('removed');
    });
  });
});
