// Integration tests: the tools container and the host `usbip` command's fast path (`podman exec`
// in the tools container: no container start, no Node) and its fallback (kvc wrapper, a
// container per call).
// This kernel cannot load modules, so the tools container is started directly, as `kvc load`
// does after loading; everything else is real: podman, the image, the host script.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, NODE, writeUsbipHostCommands, MAIN, CONTAINERS_CONF, ensureUsbipImage, makeConfigDir, removeDir, podman } from './harness.js';
import { createLogger } from '../../lib/log/logger.js';
import { ContainerRuntime } from '../../lib/runtime/container-runtime.js';
import { loadInstanceSettings } from '../../lib/config/load.js';
import { startTools, stopTools, liveToolsPid } from '../../lib/ops/tools.js';
import { recordToolRun } from '../../lib/ops/tool-run-record.js';

describe('integration: host usbip command through the tools container', function () {
  this.timeout(120000);
  let configDir;
  let runDir;
  let bin;
  let ctx;
  let settings;

  before(async () => {
    ensureUsbipImage();
    configDir = makeConfigDir();
    runDir = mkdtempSync(join(tmpdir(), 'kvc-run-'));
    bin = mkdtempSync(join(tmpdir(), 'kvc-bin-'));
    // What `make install` lays out: usbip, usbipd, and kvc beside them.
    writeUsbipHostCommands(bin);
    writeFileSync(join(bin, 'kvc'), `#!/bin/sh\nexec ${NODE} ${MAIN} --config-dir ${configDir} "$@"\n`);
    chmodSync(join(bin, 'kvc'), 0o755);
    // This machine's kernel is not the image's: a fixture `uname` on PATH answers the image's.
    writeFileSync(join(bin, 'uname'), `#!/bin/sh\necho ${KVER}\n`);
    chmodSync(join(bin, 'uname'), 0o755);
    process.env.CONTAINERS_CONF = CONTAINERS_CONF;
    const logger = createLogger({ style: 'plain' });
    ctx = {
      configDir, logger, runtime: new ContainerRuntime('podman', { logger }), hostRoot: '/', runDir,
      runningKernel: KVER, interactive: false,
    };
    settings = await loadInstanceSettings(configDir, 'usbip', ['usbip']);
  });
  after(async () => {
    await stopTools(ctx, settings);
    removeDir(configDir);
    removeDir(runDir);
    removeDir(bin);
  });

  const host = (tool, args, env = {}) => spawnSync(join(bin, tool), args, {
    encoding: 'utf8', env: { ...process.env, KVC_RUN_DIR: runDir, CONTAINERS_CONF, PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, ...env },
  });

  it('without the tools container, `usbip version` falls back to kvc wrapper (a new container)', () => {
    const result = host('usbip', ['version']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^usbip \(usbip-utils [0-9.]+\)/);
    expect(result.stderr).to.equal('');
  });

  it('startTools runs the tools container and records its PID for the running kernel', async () => {
    await startTools(ctx, settings, KVER);
    const pid = await liveToolsPid(ctx, 'usbip', KVER);
    expect(pid).to.be.a('number');
    // pid, start time (field 22 of /proc/PID/stat), mount namespace inode, kernel, runtime.
    const start = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')[19];
    expect(readFileSync(join(runDir, 'usbip', 'tools.pid'), 'utf8')).to.equal(`${pid} ${start} ${statSync(`/proc/${pid}/ns/mnt`).ino} ${KVER} podman\n`);
    const [info] = JSON.parse(podman(['container', 'inspect', 'kvc-usbip-tools']));
    expect(info.State.Running).to.equal(true);
    expect(info.State.Pid).to.equal(pid);
    expect(await liveToolsPid(ctx, 'usbip', 'another-kernel')).to.equal(undefined);
  });

  it('with it up, `usbip version` runs in it with podman exec, without kvc (unreachable)', () => {
    // kvc moved away: if the script fell back to kvc wrapper, it would fail.
    renameSync(join(bin, 'kvc'), join(bin, 'kvc.away'));
    try {
      const result = host('usbip', ['version'], { PATH: '/usr/bin:/bin' });
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout).to.match(/^usbip \(usbip-utils [0-9.]+\)/);
    } finally {
      renameSync(join(bin, 'kvc.away'), join(bin, 'kvc'));
    }
  });

  it('a tool run through the fast path has no capability, no new privileges, the container\'s cgroup and a root it cannot change', async () => {
    const pid = await liveToolsPid(ctx, 'usbip', KVER);
    // usbipd's --help is not a shell: the image's sh is reached as the tool the host command names.
    writeUsbipHostCommands(bin, ['/bin/sh']);
    const probe = 'grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; cat /proc/self/cgroup | tail -1; (echo x > /usr/sbin/usbip) 2>&1; ls /dev';
    const result = host('sh', ['-c', probe]);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^CapEff:\s+0000000000000000$/m);
    expect(result.stdout).to.match(/^NoNewPrivs:\s+1$/m);
    expect(result.stdout).to.match(/^Seccomp:\s+2$/m);
    expect(result.stdout).to.include('Read-only file system');
    const holderCgroup = readFileSync(`/proc/${pid}/cgroup`, 'utf8').trim().split('\n').pop();
    expect(result.stdout).to.include(holderCgroup);
    expect(result.stdout).to.not.match(/^(sd[a-z]|vd[a-z]|nvme|loop)/m);
  });

  it('usbipd is the same script under another name and runs the real usbipd', () => {
    const result = host('usbipd', ['--help']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^usage: usbipd \[options\]/m);
  });

  it('the tool\'s exit status passes through the fast path', () => {
    const result = host('usbip', ['no-such-subcommand']);
    expect(result.status).to.not.equal(0);
    const native = spawnSync('podman', ['run', '--rm', '--network=none', `localhost/usbip-${settings.softwareVersion}:${KVER}`, 'usbip', 'no-such-subcommand'], { env: { ...process.env, CONTAINERS_CONF } });
    expect(result.status).to.equal(native.status);
  });

  it('stopTools removes the container and the PID file; the next call falls back again', async () => {
    await stopTools(ctx, settings);
    expect(existsSync(join(runDir, 'usbip', 'tools.pid'))).to.equal(false);
    expect(podman(['ps', '--all', '--filter', 'name=kvc-usbip-tools', '--quiet']).trim()).to.equal('');
    const result = host('usbip', ['version']);
    expect(result.status, result.stderr).to.equal(0);
  });

  it('after kvc built the image (its tool-run record), with no tools container, the tool runs from the record without kvc; arguments kept in order', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'kvc-state-'));
    try {
      await recordToolRun({ ...ctx, stateDir }, settings, KVER);
      const record = readFileSync(join(stateDir, 'usbip', 'tool-run', KVER), 'utf8').split('\n');
      expect(record.slice(0, 2)).to.deep.equal(['podman', `localhost/usbip-${settings.softwareVersion}:${KVER}`]);
      expect(record).to.include.members(['--read-only', '--cap-drop=all', '--pull=never']);
      renameSync(join(bin, 'kvc'), join(bin, 'kvc.away'));
      try {
        const result = host('usbip', ['version'], { KVC_STATE_DIR: stateDir });
        expect(result.status, result.stderr).to.equal(0);
        expect(result.stdout).to.match(/^usbip \(usbip-utils [0-9.]+\)/);
        // A shell as the tool shows its arguments arrive whole and in order.
        writeUsbipHostCommands(bin, ['/bin/sh']);
        const args = host('sh', ['-c', 'printf "<%s>" "$@"', 'sh', 'a b', '', '--privileged'], { KVC_STATE_DIR: stateDir });
        expect(args.stdout, args.stderr).to.equal('<a b><><--privileged>');
        // On a host where AppArmor came on after the record was written (installed, then a
        // reboot), the record's run would start under the runtime's default profile, which denies
        // the tool's writes to /sys: it is not believed, the fallback (kvc, moved away) is taken.
        const hostRoot = mkdtempSync(join(tmpdir(), 'kvc-host-'));
        const sys = join(hostRoot, 'sys');
        try {
          mkdirSync(join(sys, 'module/apparmor/parameters'), { recursive: true });
          writeFileSync(join(sys, 'module/apparmor/parameters/enabled'), 'Y\n');
          const underAppArmor = host('usbip', ['version'], { KVC_STATE_DIR: stateDir, KVC_HOST_ROOT: hostRoot });
          expect(underAppArmor.status, underAppArmor.stdout).to.not.equal(0);
          expect(underAppArmor.stdout).to.equal('');
          writeFileSync(join(sys, 'module/apparmor/parameters/enabled'), 'N\n');
          expect(host('usbip', ['version'], { KVC_STATE_DIR: stateDir, KVC_HOST_ROOT: hostRoot }).status).to.equal(0);
        } finally {
          removeDir(hostRoot);
        }
        // A record others may write is not believed: the fallback (kvc, moved away) is taken and fails.
        chmodSync(join(stateDir, 'usbip', 'tool-run', KVER), 0o666);
        expect(host('usbip', ['version'], { KVC_STATE_DIR: stateDir }).status).to.not.equal(0);
      } finally {
        renameSync(join(bin, 'kvc.away'), join(bin, 'kvc'));
      }
    } finally {
      removeDir(stateDir);
    }
  });
});
