// Integration test: `kvc service usbip` stays up and pre-builds images for kernels that get
// installed, with the real podman, real chokidar and the real USB/IP Containerfile. This machine's
// kernel cannot load modules, so the runner is pointed (KVC_HOST_ROOT, KVC_RUNNING_KERNEL) at a
// host root whose /sys/module has the USB/IP modules built in: the load step has nothing to do,
// and everything after it — watching, building, retrying, pruning, stopping — is real. The
// systemd side (Type=notify, D-Bus) is tested in the end-to-end guest.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectLines } from './log-lines.js';
import { KVER, NODE, MAIN, CONTAINERS_CONF, LOG_DIR, ensureUsbipImage, makeConfigDir, makeHostRoot, removeDir, podman, usbipImage as imageOf } from './harness.js';

const NEW_KERNEL = '6.1.0-56-rt-amd64';
const NO_HEADERS = '6.1.0-999-amd64';
const NO_MODULES = '6.1.0-56-nomodules-amd64';
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const imageExists = (ref) => {
  try {
    podman(['image', 'exists', ref]);
    return true;
  } catch {
    return false;
  }
};

describe('integration: the service watches for new kernels and pre-builds their images', function () {
  this.timeout(20 * 60 * 1000);
  let configDir;
  let root;
  let runDir;
  let child;
  let lines;
  let waitFor;
  let count;
  let exited;

  const modules = (kver) => join(root, 'lib/modules', kver);

  before(async () => {
    ensureUsbipImage();
    // KVC_KEEP_KERNELS high: images of other kernels in this host's podman (other tests', older kvc's)
    // count among the kernels kept, and must not push the test's made-up kernels out of the plan.
    configDir = makeConfigDir('KVC_BUILD_NETWORK=host\nKVC_BUILD_RETRY_SECONDS=3\nKVC_KEEP_KERNELS=10\n');
    ({ root, runDir } = makeHostRoot({ loaded: ['usbip_core', 'usbip_host', 'vhci_hcd'] }));
    child = spawn(NODE, [MAIN, '--config-dir', configDir, 'service', 'usbip'], {
      env: { ...process.env, CONTAINERS_CONF, KVC_HOST_ROOT: root, KVC_RUNNING_KERNEL: KVER, KVC_RUN_DIR: runDir, KVC_LOG_DIR: LOG_DIR },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    ({ lines, waitFor, count } = collectLines(child.stderr));
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
    await waitFor(/watching .* for new kernels/, 120000);
  });

  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    for (const kver of [NEW_KERNEL, NO_HEADERS, NO_MODULES]) podman(['rmi', '--ignore', imageOf(kver)]);
    removeDir(configDir);
    removeDir(root);
    removeDir(runDir);
  });

  it('started: the running kernel\'s image was there, its modules are built in, the tools container is up', async () => {
    expect(count(/up to date for 6\.1\.0-56-amd64; nothing to build/)).to.equal(1);
    expect(count(/usbip-core: built into the running kernel, skipped/)).to.equal(1);
    await waitFor(/ready: usbip-core, usbip-host, vhci-hcd loaded into/, 5000);
  });

  it('a kernel installed in steps is built once, after its files are complete and settled', async () => {
    const dir = modules(NEW_KERNEL);
    mkdirSync(join(dir, 'kernel/drivers'), { recursive: true });
    for (let i = 0; i < 8; i += 1) {
      writeFileSync(join(dir, `modules.order.${i}`), 'x');
      await sleep(150);
    }
    expect(count(new RegExp(`kernel ${NEW_KERNEL}`)), 'no build before the files are complete').to.equal(0);
    writeFileSync(join(dir, 'modules.dep'), '');
    const complete = Date.now();
    writeFileSync(join(dir, 'modules.alias'), '');
    const started = await waitFor(new RegExp(`kernel ${NEW_KERNEL} has no image: building it`), 10000);
    const built = await waitFor(new RegExp(`built localhost/usbip-1\\.0\\.0:${NEW_KERNEL}`), 10 * 60 * 1000);
    console.log(`      (build started ${started.at - complete} ms after the files were complete; it took ${built.at - started.at} ms)`);
    expect(count(new RegExp(`kernel ${NEW_KERNEL} has no image: building`)), 'one build for the burst').to.equal(1);
    const [info] = JSON.parse(podman(['image', 'inspect', imageOf(NEW_KERNEL)]));
    expect(info.Labels['io.kvc.kernel']).to.equal(NEW_KERNEL);
    const vermagic = podman(['run', '--rm', '--network=none', imageOf(NEW_KERNEL), 'modinfo', '-k', NEW_KERNEL, '-F', 'vermagic', 'vhci-hcd']).trim();
    expect(vermagic.split(' ')[0]).to.equal(NEW_KERNEL);
  });

  it('a kernel whose config has no module support is refused once, not retried', async () => {
    mkdirSync(modules(NO_MODULES));
    writeFileSync(join(modules(NO_MODULES), 'config'), '# CONFIG_MODULES is not set\n# CONFIG_USB_SUPPORT is not set\n');
    writeFileSync(join(modules(NO_MODULES), 'modules.dep'), '');
    await waitFor(new RegExp(`kernel ${NO_MODULES} cannot take usbip's modules: it has no loadable module support \\(CONFIG_MODULES is not set.*not building for it`), 15000);
    await sleep(4000);
    expect(count(new RegExp(`${NO_MODULES}.*not building for it`))).to.equal(1);
  });

  it('a kernel whose headers cannot be had: the build fails, is retried with back-off, the service stays up', async () => {
    const mark = lines.length;
    mkdirSync(modules(NO_HEADERS));
    writeFileSync(join(modules(NO_HEADERS), 'modules.dep'), '');
    await waitFor(new RegExp(`building the image for ${NO_HEADERS} failed \\(attempt 1\\): .*; retrying in 3 s`), 5 * 60 * 1000, mark);
    await waitFor(new RegExp(`building the image for ${NO_HEADERS} failed \\(attempt 2\\): .*; retrying in 6 s`), 5 * 60 * 1000, mark);
    expect(child.exitCode, 'the service is still up').to.equal(null);
    expect(imageExists(imageOf(NO_HEADERS))).to.equal(false);
  });

  it('removing a kernel cancels its retries and prunes its image; an install removed before it settled builds nothing', async () => {
    rmSync(modules(NO_HEADERS), { recursive: true });
    await waitFor(new RegExp(`kernel ${NO_HEADERS} was removed`), 10000);
    mkdirSync(modules('6.1.0-77-amd64'));
    writeFileSync(join(modules('6.1.0-77-amd64'), 'modules.dep'), '');
    rmSync(modules('6.1.0-77-amd64'), { recursive: true });
    rmSync(modules(NEW_KERNEL), { recursive: true });
    await waitFor(new RegExp(`pruned .*${NEW_KERNEL}`), 30000);
    expect(imageExists(imageOf(NEW_KERNEL))).to.equal(false);
    expect(imageExists(imageOf(KVER)), 'the running kernel\'s image is kept').to.equal(true);
    await sleep(8000);
    expect(count(/kernel 6\.1\.0-77-amd64 has no image/)).to.equal(0);
    expect(count(new RegExp(`failed \\(attempt 3\\).*|building the image for ${NO_HEADERS} failed \\(attempt [3-9]`)), 'no retry after removal').to.equal(0);
  });

  it('SIGTERM: stops, unloads what it loaded (nothing here), removes the tools container, exits 0', async () => {
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(count(/SIGTERM: stopping/)).to.equal(1);
    expect(podman(['ps', '--all', '--filter', 'name=kvc-usbip-tools', '--quiet']).trim()).to.equal('');
  });

  it('SIGTERM right after READY, while containers still run: the runner finishes, unloads and exits 0', async () => {
    // Regression: the stop handler removed itself, and execa's signal-exit then re-raised
    // SIGTERM and killed the runner before it unloaded.
    const again = spawn(NODE, [MAIN, '--config-dir', configDir, '--verbose', 'service', 'usbip'], {
      env: { ...process.env, CONTAINERS_CONF, KVC_HOST_ROOT: root, KVC_RUNNING_KERNEL: KVER, KVC_RUN_DIR: runDir, KVC_LOG_DIR: LOG_DIR },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log = collectLines(again.stderr);
    const code = new Promise((resolve) => again.on('exit', (status, signal) => resolve(signal ?? status)));
    const ready = await log.waitFor(/ready: usbip-core/, 60000);
    // The next container command after READY (--verbose logs it just before it starts).
    await log.waitFor(/^kvc: \$ podman .* run /, 60000, log.lines.indexOf(ready));
    await new Promise((resolve) => setTimeout(resolve, 100));
    again.kill('SIGTERM');
    expect(await code).to.equal(0);
    expect(log.count(/SIGTERM: stopping/)).to.equal(1);
    expect(log.count(/^kvc: stopped$/)).to.equal(1);
    expect(podman(['ps', '--all', '--filter', 'name=kvc-usbip-tools', '--quiet']).trim()).to.equal('');
  });
});
