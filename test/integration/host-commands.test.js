// Integration test: host commands for any instance. A second instance (a test fixture with a
// `hello` tool, declared in KVC_HOST_TOOLS) gets its host command from `kvc host-commands`; it
// runs the tool in a new container (kvc wrapper) and, with the tools container up, in it with
// podman exec, without kvc; USB/IP's attach guard is not applied to it. Real kvc CLI, real podman.
// This kernel cannot load modules, so the tools container is started as `kvc load` does
// after loading.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, ROOT, NODE, MAIN, CONTAINERS_CONF, ensureUsbipImage, kvc, makeConfigDir, removeDir, podman } from './harness.js';
import { createLogger } from '../../lib/log/logger.js';
import { ContainerRuntime } from '../../lib/runtime/container-runtime.js';
import { loadInstanceSettings } from '../../lib/config/load.js';
import { startTools, stopTools } from '../../lib/ops/tools.js';

describe('integration: host commands for a second instance\'s tool', function () {
  this.timeout(10 * 60 * 1000);
  let configDir;
  let runDir;
  let bin;
  let ctx;

  before(() => {
    ensureUsbipImage();
    configDir = makeConfigDir();
    cpSync(join(ROOT, 'test/fixtures/hello-instance'), configDir, { recursive: true });
    chmodSync(join(configDir, 'hello'), 0o755);
    runDir = mkdtempSync(join(tmpdir(), 'kvc-run-'));
    bin = mkdtempSync(join(tmpdir(), 'kvc-bin-'));
    writeFileSync(join(bin, 'kvc'), `#!/bin/sh\nexec ${NODE} ${MAIN} --config-dir ${configDir} "$@"\n`);
    writeFileSync(join(bin, 'uname'), `#!/bin/sh\necho ${KVER}\n`);
    chmodSync(join(bin, 'kvc'), 0o755);
    chmodSync(join(bin, 'uname'), 0o755);
    const logger = createLogger({ style: 'plain' });
    process.env.CONTAINERS_CONF = CONTAINERS_CONF;
    ctx = { configDir, logger, runtime: new ContainerRuntime('podman', { logger }), hostRoot: '/', runDir, runningKernel: KVER, interactive: false };
  });
  after(async () => {
    await stopTools(ctx, { name: 'hello', deviceManager: undefined });
    podman(['rmi', '--ignore', '--force', `localhost/hello-1.0.0:${KVER}`]);
    removeDir(configDir);
    removeDir(runDir);
    removeDir(bin);
  });

  const hello = (args, env = {}) => spawnSync(join(bin, 'hello'), args, {
    encoding: 'utf8', env: { ...process.env, KVC_RUN_DIR: runDir, CONTAINERS_CONF, PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, ...env },
  });

  it('kvc builds the instance and writes its host command', () => {
    const built = kvc(['build', 'hello', KVER], { configDir, timeout: 5 * 60 * 1000 });
    expect(built.status, built.stderr).to.equal(0);
    const written = kvc(['host-commands', 'hello', '--bindir', bin, '--libdir', join(ROOT, 'host/lib')], { configDir });
    expect(written.status, written.stderr).to.equal(0);
    expect(written.stderr).to.include(`${join(bin, 'hello')}: runs /usr/local/bin/hello from hello's image`);
  });

  it('without the tools container: the tool runs in a new container, stdout and exit status unchanged', () => {
    const result = hello(['a b', 'c']);
    expect(result.stdout).to.equal('hello from the image: a b c\n');
    expect(result.status).to.equal(7);
  });

  it('with the tools container up: the tool runs in it (podman exec), without kvc', async () => {
    await startTools(ctx, await loadInstanceSettings(configDir, 'hello', []), KVER);
    // kvc moved away: the fallback (kvc wrapper) would fail.
    renameSync(join(bin, 'kvc'), join(bin, 'kvc.away'));
    let result;
    try {
      result = hello(['fast'], { PATH: '/usr/bin:/bin' });
    } finally {
      renameSync(join(bin, 'kvc.away'), join(bin, 'kvc'));
    }
    expect(result.stdout).to.equal('hello from the image: fast\n');
    expect(result.status).to.equal(7);
  });

  it('USB/IP\'s attach guard is USB/IP\'s: `hello attach -r … -b …` takes no attach lock', () => {
    const result = hello(['attach', '-r', '127.0.0.1', '-b', '1-1']);
    expect(result.status).to.equal(7);
    expect(existsSync(join(runDir, 'hello', 'attach'))).to.equal(false);
  });

  it('--remove takes it away again', () => {
    const result = kvc(['host-commands', 'hello', '--bindir', bin, '--remove'], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    expect(existsSync(join(bin, 'hello'))).to.equal(false);
  });
});

// Issue 25, item 13: make install removed $(BINDIR)/usbip whatever it was (before: a foreign usbip,
// Debian's say, was replaced by kvc's host command, and make uninstall removed it).
describe('make install and uninstall leave a usbip that kvc did not write', function () {
  this.timeout(180000);
  it('keeps it, says so, writes the other host command, and uninstall removes only kvc\'s', () => {
    const dest = mkdtempSync(join(tmpdir(), 'kvc-install-'));
    try {
      const bin = join(dest, 'usr/local/bin');
      spawnSync('mkdir', ['-p', bin]);
      writeFileSync(join(bin, 'usbip'), '#!/bin/sh\necho the distribution\'s usbip\n', { mode: 0o755 });
      const install = spawnSync('make', ['--no-print-directory', '-s', 'install', `DESTDIR=${dest}`], { cwd: ROOT, encoding: 'utf8' });
      expect(install.status, install.stderr).to.equal(0);
      expect(install.stdout).to.include(`${join(bin, 'usbip')} exists and kvc did not write it; not replacing it`);
      expect(spawnSync('cat', [join(bin, 'usbip')], { encoding: 'utf8' }).stdout).to.equal('#!/bin/sh\necho the distribution\'s usbip\n');
      expect(spawnSync('grep', ['-c', 'Written by `kvc host-commands', join(bin, 'usbipd')], { encoding: 'utf8' }).stdout.trim()).to.equal('1');
      const uninstall = spawnSync('make', ['--no-print-directory', '-s', 'uninstall', `DESTDIR=${dest}`], { cwd: ROOT, encoding: 'utf8' });
      expect(uninstall.status, uninstall.stderr).to.equal(0);
      expect(existsSync(join(bin, 'usbip'))).to.equal(true);
      expect(existsSync(join(bin, 'usbipd'))).to.equal(false);
    } finally {
      removeDir(dest);
    }
  });
});
