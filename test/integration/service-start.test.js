// Integration test: the service's start on the real podman, with no image for the running kernel.
// SIGTERM while the start-time build runs stops it cleanly (exit 0, no working container, no
// pending image, the lock free); started again, the service builds the image, then loads. As in
// the watch test, the runner is pointed at a made-up host root (this machine's kernel cannot load
// modules): its /sys/module lacks the USB/IP modules when the service starts, so the load finds
// no image and the service builds; while it builds, the test makes them appear as built in, so the
// load after the build has nothing left to do. The build and everything around it is real. The
// instance is a copy of usbip under another name, so no image of the other tests is used or pruned.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { collectLines } from './log-lines.js';
import { KVER, NODE, MAIN, CONTAINERS_CONF, LOG_DIR, makeConfigDir, makeHostRoot, removeDir, podman, podmanState, podmanChanges } from './harness.js';

const NAME = 'usbipstart';
const IMAGE = `localhost/${NAME}-1.0.0:${KVER}`;

describe('integration: the service builds at start when the image is missing, and stops cleanly mid-build', function () {
  this.timeout(25 * 60 * 1000);
  let configDir;
  let root;
  let runDir;
  let children = [];

  const start = () => {
    const child = spawn(NODE, [MAIN, '--config-dir', configDir, 'service', NAME], {
      env: { ...process.env, CONTAINERS_CONF, KVC_HOST_ROOT: root, KVC_RUNNING_KERNEL: KVER, KVC_RUN_DIR: runDir, KVC_LOG_DIR: LOG_DIR },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const log = collectLines(child.stderr);
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    children.push(child);
    return { child, log, exited };
  };
  const pendingImages = () => podman(['images', '--all', '--format', '{{.Repository}}:{{.Tag}}']).split('\n').filter((name) => name.includes('kvc-pending'));
  const lockFree = () => spawnSync('flock', ['--nonblock', join(runDir, `${NAME}.lock`), 'true']).status === 0;

  before(() => {
    configDir = makeConfigDir('KVC_BUILD_NETWORK=host\n');
    writeFileSync(join(configDir, `${NAME}.conf`), readFileSync(join(configDir, 'usbip.conf'), 'utf8'));
    ({ root, runDir } = makeHostRoot());
    podman(['rmi', '--ignore', IMAGE]);
  });
  after(() => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    podman(['rm', '--force', '--ignore', `kvc-${NAME}-tools`]);
    podman(['rmi', '--force', '--ignore', IMAGE]);
    removeDir(configDir);
    removeDir(root);
    removeDir(runDir);
  });

  it('SIGTERM during the start-time build: exit 0 soon, no working container, no pending image, the lock free', async () => {
    const before = podmanState();
    const { child, log, exited } = start();
    await log.waitFor(/does not exist: building it/, 60000);
    // The build has started a container of its own once a RUN step shows.
    await log.waitFor(/build: (\[\d+\/\d+\] )?STEP \d+\/\d+: RUN/, 5 * 60 * 1000);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const sent = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    const took = Date.now() - sent;
    console.log(`      (stopped ${took} ms after SIGTERM)`);
    expect(code, log.lines.map((line) => line.text).join('\n')).to.equal(0);
    expect(took, 'well within TimeoutStopSec (3 min)').to.be.lessThan(60000);
    expect(log.count(/SIGTERM: stopping/)).to.equal(1);
    expect(log.count(/stopped before anything was loaded; nothing to unload/)).to.equal(1);
    const changes = podmanChanges(before, podmanState());
    expect(changes.containersAdded, 'no working container left').to.deep.equal([]);
    expect(changes.imagesGone).to.deep.equal([]);
    expect(changes.imagesAdded.filter((line) => !line.endsWith(' <none>:<none>')), 'no named image').to.deep.equal([]);
    // Unnamed step images may stay only where they do not depend on the kernel (the toolchain
    // step, which the next build reuses): whatever holds this kernel's files is gone.
    for (const line of changes.imagesAdded) {
      const history = podman(['history', '--no-trunc', '--format', '{{.CreatedBy}}', line.split(' ')[0]]);
      expect(history, `step image ${line} holds something of ${KVER}`).to.not.include(`KVER=${KVER}`);
    }
    expect(pendingImages()).to.deep.equal([]);
    expect(lockFree(), 'the instance lock is free').to.equal(true);
  });

  it('no image at start: the service builds it, then loads and reports ready; SIGTERM then unloads and exits 0', async () => {
    const { child, log, exited } = start();
    await log.waitFor(/does not exist: building it/, 60000);
    // The build runs for a minute or more: the modules "appear" now, for the load after it.
    for (const module of ['usbip_core', 'usbip_host', 'vhci_hcd']) mkdirSync(join(root, 'sys/module', module), { recursive: true });
    const ready = await log.waitFor(/ready: usbip-core, usbip-host, vhci-hcd loaded into .* \(image built\)/, 20 * 60 * 1000);
    expect(log.count(new RegExp(`built ${IMAGE.replace(/[.+]/g, '\\$&')} in \\d+ s; log: ${LOG_DIR}/${NAME}/`))).to.equal(1);
    const [info] = JSON.parse(podman(['image', 'inspect', IMAGE]));
    expect(info.Labels).to.include({ 'io.kvc.instance': NAME, 'io.kvc.kernel': KVER, 'io.kvc.version': '1.0.0' });
    // After READY the service stays up, watching for kernels.
    await log.waitFor(/watching .* for new kernels/, 60000, log.lines.indexOf(ready));
    child.kill('SIGTERM');
    expect(await exited).to.equal(0);
    expect(log.count(/unloading usbip-core, usbip-host, vhci-hcd/)).to.equal(1);
    expect(log.count(/^kvc: building localhost/), 'one build').to.equal(1);
  });
});
