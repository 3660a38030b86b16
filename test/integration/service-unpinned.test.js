// Integration test (issue 25, item 7): the service's start path, with the real kvc CLI and podman,
// refuses to build an instance whose build context is a remote source not pinned to a commit
// (a git:// URL at its default branch): it exits 78 naming the three ways out, before any build
// starts (podman shows no new image or container). A person's `kvc build` of the same instance is
// not refused by this rule (it reaches the build, which fails here for want of a network).
// The host root is made up, as in service-start.test.js: its /sys/module lacks the modules, so
// the service finds no image for the running kernel and would build.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KVER, NODE, MAIN, CONTAINERS_CONF, LOG_DIR, makeConfigDir, makeHostRoot, removeDir, podmanState, podmanChanges } from './harness.js';

const NAME = 'unpinned';

describe('integration: the service does not build an unpinned remote source unattended', function () {
  this.timeout(5 * 60 * 1000);
  let configDir;
  let root;
  let runDir;

  before(() => {
    configDir = makeConfigDir('KVC_BUILD_NETWORK=host\n');
    const conf = readFileSync(join(configDir, 'usbip.conf'), 'utf8').replace(/^KMOD_CONTAINER_BUILD_CONTEXT=.*$/m, 'KMOD_CONTAINER_BUILD_CONTEXT="git://kvc-test.invalid/kvc-usbip.git"');
    expect(conf).to.include('git://kvc-test.invalid');
    writeFileSync(join(configDir, `${NAME}.conf`), conf);
    ({ root, runDir } = makeHostRoot());
  });
  after(() => {
    removeDir(configDir);
    removeDir(root);
    removeDir(runDir);
  });

  const service = (extraConf = '') => {
    if (extraConf !== '') writeFileSync(join(configDir, `${NAME}.conf`), `${readFileSync(join(configDir, `${NAME}.conf`), 'utf8')}${extraConf}`);
    return spawnSync(NODE, [MAIN, '--config-dir', configDir, 'service', NAME], {
      env: { ...process.env, CONTAINERS_CONF, KVC_HOST_ROOT: root, KVC_RUNNING_KERNEL: KVER, KVC_RUN_DIR: runDir, KVC_LOG_DIR: LOG_DIR },
      encoding: 'utf8', timeout: 120000,
    });
  };

  it('exits 78 before building, naming the source and the three ways out; podman is unchanged', () => {
    const before = podmanState();
    const result = service();
    expect(result.status, result.stderr).to.equal(78);
    expect(result.stderr).to.match(/unpinned: its build context git:\/\/kvc-test\.invalid\/kvc-usbip\.git is a remote source at its default branch, not pinned to a commit: the service does not build it unattended/);
    expect(result.stderr).to.include('KVC_SERVICE_UNPINNED=yes').and.include(`kvc build ${NAME}`).and.include('40-hex commit');
    expect(result.stderr, 'no build step ran').to.not.match(/STEP \d|kvc-pending/);
    const changes = podmanChanges(before, podmanState());
    expect(changes.imagesAdded, 'no image made').to.deep.equal([]);
    expect(changes.containersAdded, 'no container started').to.deep.equal([]);
  });
});
