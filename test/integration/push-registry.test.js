// Integration: `kvc push` to a real registry (Debian's docker-registry, distribution 2.8) started on
// loopback with its own configuration and storage, the pushed tags read back from its HTTP API.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kvc, podman, removeDir } from './harness.js';
import { startRegistry } from './registry-harness.js';
import { imageTagFor } from '../../lib/images/names.js';

const KERNELS = ['6.1.0-56-amd64', '6.12.117+deb12-amd64'];
const tagOf = imageTagFor;

describe('kvc push to a registry on loopback', function () {
  this.timeout(120000);
  let dir;
  let registry;
  let address;
  let configDir;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-registry-'));
    registry = await startRegistry(dir);
    address = registry.address;
    // A tiny instance: its image is one small file on scratch, named as kvc names images, per kernel.
    configDir = mkdtempSync(join(tmpdir(), 'kvc-push-conf-'));
    mkdirSync(join(configDir, 'tiny'));
    writeFileSync(join(configDir, 'tiny', 'Containerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    writeFileSync(join(configDir, 'tiny', 'hello.txt'), 'pushed by kvc\n');
    writeFileSync(join(configDir, 'tiny.conf'), 'KMOD_CONTAINER_BUILD_CONTEXT=tiny\nKMOD_CONTAINER_BUILD_FILE=Containerfile\nKMOD_SOFTWARE_VERSION=1.0.0\nKMOD_NAMES=tiny\n');
    writeFileSync(join(configDir, 'kvc.conf'), 'KVC_CONTAINER_RUNTIME=podman\n');
    for (const kver of KERNELS) podman(['build', '--quiet', '--tag', `localhost/tiny-1.0.0:${tagOf(kver)}`, join(configDir, 'tiny')]);
  });

  after(() => {
    registry?.stop();
    for (const kver of KERNELS) {
      try {
        podman(['rmi', '--force', `localhost/tiny-1.0.0:${tagOf(kver)}`]);
      } catch {
        // already gone
      }
    }
    if (dir) removeDir(dir);
    if (configDir) removeDir(configDir);
  });

  it('pushes each kernel\'s image, "+" tagged as kvc escapes it, and the registry lists the tags', async () => {
    for (const kver of KERNELS) {
      const result = kvc(['push', 'tiny', kver, `${address}/kvc`, '--tls-verify=false'], { configDir });
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stdout.trim()).to.equal(`${address}/kvc/tiny-1.0.0:${tagOf(kver)}`);
      expect(result.stderr).to.include(`pushed localhost/tiny-1.0.0:${tagOf(kver)}`);
    }
    const response = await fetch(`http://${address}/v2/kvc/tiny-1.0.0/tags/list`);
    expect(response.status).to.equal(200);
    const body = await response.json();
    expect(body.name).to.equal('kvc/tiny-1.0.0');
    expect(body.tags.sort()).to.deep.equal(KERNELS.map(tagOf).sort());
    const manifest = await fetch(`http://${address}/v2/kvc/tiny-1.0.0/manifests/${tagOf(KERNELS[0])}`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
    expect(manifest.status).to.equal(200);
  });

  it('verifies TLS unless told not to: a registry without TLS is refused (70), with the switch in the hint', () => {
    const result = kvc(['push', 'tiny', KERNELS[0], `${address}/strict`], { configDir });
    expect(result.status, result.stderr).to.equal(70);
    expect(result.stderr).to.match(/pushing localhost\/tiny-1\.0\.0:6\.1\.0-56-amd64 to .*strict.* failed/).and.include('--tls-verify=false');
  });

  it('says to build first when the kernel has no image (66), and refuses a bad repository or switch (64)', () => {
    const missing = kvc(['push', 'tiny', '6.1.0-1-amd64', `${address}/kvc`, '--tls-verify=false'], { configDir });
    expect(missing.status, missing.stderr).to.equal(66);
    expect(missing.stderr).to.include('kvc build tiny 6.1.0-1-amd64');
    expect(kvc(['push', 'tiny', KERNELS[0], 'https://example.com/x'], { configDir }).status).to.equal(64);
    expect(kvc(['push', 'tiny', KERNELS[0], `${address}/kvc`, '--tls-verify=no'], { configDir }).status).to.equal(64);
  });
});
