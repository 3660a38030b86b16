// Integration test (real podman): builds of two instances at the same time. A build that fails
// removes the working containers that appeared while it ran (its own), and must not take those of
// another kvc build started after it (the service building ahead while a user builds another
// instance). Seen in this project's runs before the fix: the other build then failed with
// "identifier is not a container".
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

describe('integration: a failed build beside another instance\'s build', function () {
  this.timeout(3 * 60 * 1000);
  let configDir;
  before(() => {
    configDir = makeConfigDir();
    instance(configDir, 'kvcslow', 'sleep 15');
    instance(configDir, 'kvcfails', 'sleep 8; echo failing on purpose; false');
  });
  after(() => {
    for (const name of ['kvcslow', 'kvcfails']) {
      const ids = podman(['images', '--quiet', '--filter', `label=io.kvc.instance=${name}`]).split('\n').filter(Boolean);
      if (ids.length > 0) try { podman(['rmi', '--force', ...new Set(ids)], { stdio: 'ignore' }); } catch { /* gone */ }
    }
    removeDir(configDir);
  });

  it('leaves the other build\'s working container alone: that build completes its steps', async () => {
    const before = allContainers();
    const failing = startBuild(configDir, 'kvcfails');
    await failing.until(/STEP \d+\/\d+: RUN sleep 8/);
    // The other instance's build starts while the first one runs: its working container appears
    // after the first build looked at the containers there were.
    const slow = startBuild(configDir, 'kvcslow');
    await slow.until(/STEP \d+\/\d+: RUN sleep 15/);
    expect(await failing.exited, failing.stderr).to.equal(70);
    expect(failing.stderr).to.match(/failing on purpose/);
    expect(slow.child.exitCode, 'the slow build still runs when the other has failed').to.equal(null);
    expect(await slow.exited, slow.stderr).to.equal(65);
    expect(slow.stderr).to.not.match(/not a container|no such container/i);
    // Its podman build ran to its end: it fails only where kvc checks the image it built (this
    // test's instance has no modules).
    expect(slow.stderr).to.match(/STEP 10\/10: LABEL[\s\S]*is not usable: kvcslow is not in the image/);
    // The failed build's own leftovers are gone once nothing else builds.
    expect(allContainers()).to.deep.equal(before);
  });
});
