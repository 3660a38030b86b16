// Integration test: one build per instance at a time (a second one waits, or exits 75 with
// --no-wait); a build interrupted by SIGINT or SIGTERM stops the real podman build, removes the
// working containers it left, and leaves the previous image of that kernel tagged, unchanged.
import { expect } from 'chai';
import { KVER, IMAGE, ensureUsbipImage, kvc, makeConfigDir, removeDir, podman, startKvc } from './harness.js';

const image = IMAGE('1.0.0');
const allContainers = () => podman(['ps', '--all', '--external', '--quiet', '--no-trunc']).split('\n').filter(Boolean).sort();

// Builds started by a test; any still running when it ends (a failed assertion) are stopped, so
// they cannot spill into the next test.
const started = new Set();
afterEach(async () => {
  for (const run of started) {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGINT');
    await run.exited;
  }
  started.clear();
});

// Starts `kvc build usbip <KVER> [extra…]` in the background (harness.startKvc), stopped after
// the test if it still runs.
function startBuild(configDir, extra = []) {
  const run = startKvc(configDir, ['build', 'usbip', KVER, ...extra]);
  started.add(run);
  return run;
}

describe('integration: builds of one instance, waited for and interrupted', function () {
  this.timeout(5 * 60 * 1000);
  let configDir;
  before(() => {
    ensureUsbipImage();
    configDir = makeConfigDir();
  });
  after(() => removeDir(configDir));

  it('a second build while one runs: --no-wait exits 75 naming the holder; without it, it waits and says so', async () => {
    const first = startBuild(configDir, ['--force']);
    await first.until(/STEP \d+\/\d+:/);
    const busy = kvc(['build', 'usbip', KVER, '--no-wait'], { configDir });
    expect(busy.status).to.equal(75);
    expect(busy.stderr.trim()).to.equal(`kvc: error: usbip is busy: process ${first.child.pid} (\`kvc build usbip ${KVER}\`) holds it; wait for it, or run again without --no-wait to wait`);
    const second = startBuild(configDir);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(second.stderr).to.contain(`waiting for process ${first.child.pid} (\`kvc build usbip ${KVER}\`) to finish with usbip`);
    expect(second.child.exitCode, 'still waiting').to.equal(null);
    first.child.kill('SIGINT');
    expect(await first.exited).to.equal(130);
    expect(await second.exited).to.equal(0);
    expect(second.stderr).to.match(/is up to date for .*nothing to build/);
  });

  for (const signal of ['SIGINT', 'SIGTERM']) {
    it(`${signal} during the build's apt-get step: exit 130, no half-built image, nothing left`, async () => {
      const before = { id: JSON.parse(podman(['image', 'inspect', image]))[0].Id, containers: allContainers() };
      const build = startBuild(configDir, ['--force']);
      await build.until(/STEP \d+\/\d+: RUN apt-get/);
      await new Promise((resolve) => setTimeout(resolve, 1500));
      build.child.kill(signal);
      expect(await build.exited).to.equal(130);
      expect(build.stderr.trimEnd().split('\n').pop()).to.equal(`kvc: error: interrupted by ${signal}; nothing was left half-done`);
      expect(JSON.parse(podman(['image', 'inspect', image]))[0].Id, 'the previous image keeps its name').to.equal(before.id);
      expect(podman(['images', '--format', '{{.Repository}}:{{.Tag}}'])).to.not.match(/kvc-pending/);
      expect(allContainers(), 'no working container left behind').to.deep.equal(before.containers);
    });
  }
});
