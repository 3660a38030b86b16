// Integration test (real podman): builds of two instances at the same time. A build that is
// cancelled (podman killed, so its working container stays) removes the working containers that
// appeared while it ran, and must not take those of another kvc build started after it (the
// service building ahead while a user builds another instance). Seen in this project's runs
// before the fix: the other build then failed with "identifier is not a container".
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KVER, makeConfigDir, removeDir, podman, startKvc } from './harness.js';

const allContainers = () => podman(['ps', '--all', '--external', '--quiet', '--no-trunc']).split('\n').filter(Boolean).sort();

// An instance whose build runs `step` (no modules come of it: the build's podman part is what
// this test watches; kvc's check of the image after it fails, as it should).
function instance(configDir, name, step) {
  mkdirSync(join(configDir, name));
  writeFileSync(join(configDir, name, 'Containerfile'), `FROM docker.io/library/debian:bookworm-slim\nARG KVER\nARG KMODVER\nRUN ${step}\n`);
  writeFileSync(join(configDir, `${name}.conf`), `KMOD_CONTAINER_BUILD_CONTEXT="${name}"\nKMOD_CONTAINER_BUILD_FILE="Containerfile"\nKMOD_SOFTWARE_VERSION="1.0.0"\nKMOD_NAMES="${name}"\n`);
}

const startBuild = (configDir, name) => startKvc(configDir, ['build', '--force', name, KVER]);

describe('integration: a cancelled build beside another instance\'s build', function () {
  this.timeout(3 * 60 * 1000);
  let configDir;
  before(() => {
    configDir = makeConfigDir();
    instance(configDir, 'kvcslow', 'sleep 15');
    instance(configDir, 'kvccancel', 'sleep 60');
    instance(configDir, 'kvcfails', 'echo failing on purpose; false');
  });
  after(() => {
    for (const name of ['kvcslow', 'kvccancel', 'kvcfails']) {
      const ids = podman(['images', '--quiet', '--filter', `label=io.kvc.instance=${name}`]).split('\n').filter(Boolean);
      if (ids.length > 0) try { podman(['rmi', '--force', ...new Set(ids)], { stdio: 'ignore' }); } catch { /* gone */ }
    }
    removeDir(configDir);
  });

  it('a cancelled build leaves the other build\'s working container alone, saying so: that build completes its steps', async () => {
    const cancelled = startBuild(configDir, 'kvccancel');
    await cancelled.until(/STEP \d+\/\d+: RUN sleep 60/);
    // The other instance's build starts while the first one runs: its working container appears
    // after the first build looked at the containers there were. Then the first is cancelled.
    const slow = startBuild(configDir, 'kvcslow');
    await slow.until(/STEP \d+\/\d+: RUN sleep 15/);
    cancelled.child.kill('SIGINT');
    expect(await cancelled.exited, cancelled.stderr).to.equal(130);
    expect(cancelled.stderr).to.match(/another build runs: kept \d+ working containers? that appeared while this one ran/);
    expect(slow.child.exitCode, 'the slow build still runs when the other was cancelled').to.equal(null);
    expect(await slow.exited, slow.stderr).to.equal(65);
    expect(slow.stderr).to.not.match(/not a container|no such container/i);
    // Its podman build ran to its end: it fails only where kvc checks the image it built (this
    // test's instance has no modules).
    expect(slow.stderr).to.match(/STEP 10\/10: LABEL[\s\S]*is not usable: kvcslow is not in the image/);
    // What the cancelled build kept, once nothing else builds, is removed by hand as it says.
    const kept = /kept \d+ working containers? [^:]*: ([0-9a-f ]+);/.exec(cancelled.stderr)[1].trim().split(' ');
    const still = kept.filter((id) => allContainers().includes(id));
    if (still.length > 0) podman(['rm', '--force', ...still]);
  });

  it('a build that fails by itself removes nothing: podman removed its own working container', async () => {
    const before = allContainers();
    const failing = startBuild(configDir, 'kvcfails');
    expect(await failing.exited, failing.stderr).to.equal(70);
    expect(failing.stderr).to.match(/failing on purpose/);
    expect(failing.stderr).to.not.match(/working container/);
    expect(allContainers().filter((id) => !before.includes(id))).to.deep.equal([]);
  });
});
