// Integration test: a build interrupted by SIGINT or SIGTERM stops the real podman build, removes
// the working containers it left, and leaves the previous image of that kernel tagged, unchanged.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { KVER, NODE, MAIN, CONTAINERS_CONF, IMAGE, ensureUsbipImage, makeConfigDir, removeDir, podman } from './harness.js';

const image = IMAGE('1.0.0');
const allContainers = () => podman(['ps', '--all', '--external', '--quiet', '--no-trunc']).split('\n').filter(Boolean).sort();

describe('integration: interrupting a build leaves the previous image in place', function () {
  this.timeout(5 * 60 * 1000);
  let configDir;
  before(() => {
    ensureUsbipImage();
    configDir = makeConfigDir();
  });
  after(() => removeDir(configDir));

  for (const signal of ['SIGINT', 'SIGTERM']) {
    it(`${signal} during the build's apt-get step: exit 130, no half-built image, nothing left`, async () => {
      const before = { id: JSON.parse(podman(['image', 'inspect', image]))[0].Id, containers: allContainers() };
      const child = spawn(NODE, [MAIN, '--config-dir', configDir, 'build', 'usbip', KVER, '--force'], { env: { ...process.env, CONTAINERS_CONF }, stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      const started = new Promise((resolve) => child.stderr.on('data', (chunk) => {
        stderr += chunk;
        if (/STEP \d+\/\d+: RUN apt-get/.test(stderr)) resolve();
      }));
      const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
      await started;
      await new Promise((resolve) => setTimeout(resolve, 1500));
      child.kill(signal);
      expect(await exited).to.equal(130);
      expect(stderr.trimEnd().split('\n').pop()).to.equal(`kvc: error: interrupted by ${signal}; nothing was left half-done`);
      expect(JSON.parse(podman(['image', 'inspect', image]))[0].Id, 'the previous image keeps its name').to.equal(before.id);
      expect(podman(['images', '--format', '{{.Repository}}:{{.Tag}}'])).to.not.match(/kvc-pending/);
      expect(allContainers(), 'no working container left behind').to.deep.equal(before.containers);
    });
  }
});
