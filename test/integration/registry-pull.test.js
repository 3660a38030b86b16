// Integration: a node pulls its image from a real registry (Debian's docker-registry on loopback)
// instead of building it, and accepts it only verified: real podman checks the sigstore signature
// with the policy kvc writes for that repository. The node is a podman storage of its own (its
// CONTAINERS_STORAGE_CONF), so the builder's images are not there. Attacks first: a tampered image
// re-pushed over a signed one, and a replayed signature, are refused with the reason in `kvc
// status`, and with KVC_BUILD_FALLBACK=no nothing is built; with yes, kvc builds locally. GPG
// simple signing, which Debian 12's podman 4.3 does verify, is proven end to end: kvc publish signs
// into a signature folder, a node pulls and accepts; a tampered image, another key's signature and
// a missing one are refused.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ensureUsbipImage, IMAGE, KVER, kvc, makeConfigDir, podman, removeDir, ROOT, RUN_DIR } from './harness.js';
import { startRegistry } from './registry-harness.js';
import { manifestDigest, signInRegistry } from './sigstore-attach.js';
import { makeGpgKey, serveFolder, signatureFile, signWith } from './gpg-sign.js';
import { imageTagFor } from '../../lib/images/names.js';
import { policyFileName, registriesDFileName } from '../../lib/registry/trust-policy.js';

const TAG = imageTagFor(KVER);

describe('kvc pulls verified images from a registry (a node of a fleet)', function () {
  this.timeout(300000);
  let dir;
  let registry;
  const configDirs = [];
  const repos = [];
  const builderImages = [];

  // A node: its own image storage and kvc state, and a config folder with the registry keys.
  function node(repo, extra = '', verifyKey = `${dir}/key.pub`) {
    const root = mkdtempSync(join(dir, 'node-'));
    writeFileSync(join(root, 'storage.conf'), `[storage]\ndriver = "overlay"\ngraphroot = "${root}/graph"\nrunroot = "${root}/run"\n`);
    const configDir = makeConfigDir(`KVC_BUILD_NETWORK=host\nKVC_IMAGE_REPO=${repo}\nKVC_IMAGE_VERIFY_KEY=${verifyKey}\nKVC_IMAGE_TLS_VERIFY=no\n${extra}`);
    configDirs.push(configDir);
    repos.push(repo);
    const env = { CONTAINERS_STORAGE_CONF: join(root, 'storage.conf'), KVC_STATE_DIR: join(root, 'state') };
    return {
      configDir, env, root,
      kvc: (args) => kvc(args, { configDir, env }),
      images: () => podman(['images', '--all', '--format', '{{.Repository}}:{{.Tag}}'], { env }).split('\n').filter((line) => line !== ''),
    };
  }

  // Pushes a builder image to <address>/<path>/usbip-1.0.0:<tag> (kvc push), signed when asked.
  async function publish(path, { sign }) {
    const result = kvc(['push', 'usbip', KVER, `${registry.address}/${path}`, '--tls-verify=false'], { configDir: configDirs[0] });
    expect(result.status, result.stderr).to.equal(0);
    return sign ? signInRegistry(registry.address, `${path}/usbip-1.0.0`, TAG, join(dir, 'key.pkcs8.pem')) : manifestDigest(registry.address, `${path}/usbip-1.0.0`, TAG);
  }

  before(async () => {
    ensureUsbipImage();
    dir = mkdtempSync(join(tmpdir(), 'kvc-fleet-'));
    registry = await startRegistry(join(dir, 'registry'));
    writeFileSync(join(dir, 'passphrase'), 'kvc fleet test\n');
    execFileSync('/usr/bin/python3', [join(ROOT, 'test/setup/sigstore-keygen.py'), join(dir, 'key'), join(dir, 'passphrase')]);
    configDirs.push(makeConfigDir());
  });

  after(() => {
    registry?.stop();
    for (const repo of repos) {
      rmSync(join('/etc/containers/registries.d', registriesDFileName(repo)), { force: true });
      rmSync(join(RUN_DIR, 'registry', policyFileName(repo)), { force: true });
    }
    for (const image of builderImages) {
      try {
        podman(['rmi', image]);
      } catch {
        // already gone
      }
    }
    for (const configDir of configDirs) removeDir(configDir);
    if (dir !== undefined) {
      for (const root of readdirNodes(dir)) {
        try {
          podman(['system', 'reset', '--force'], { env: { CONTAINERS_STORAGE_CONF: join(root, 'storage.conf') }, stdio: 'ignore' });
        } catch {
          // nothing stored
        }
      }
      removeDir(dir);
    }
  });

  it('attack: an image changed and re-pushed over a signed one is refused, the reason in kvc status; KVC_BUILD_FALLBACK=no builds nothing', async () => {
    await publish('tampered', { sign: true });
    // The attacker's image: the same labels, one file (a tool the host commands run) replaced.
    const context = mkdtempSync(join(dir, 'tamper-'));
    writeFileSync(join(context, 'usbip'), '#!/bin/sh\necho owned\n');
    writeFileSync(join(context, 'Containerfile'), `FROM ${IMAGE()}\nCOPY usbip /usr/sbin/usbip\n`);
    const tampered = `localhost/kvc-fleet-tampered:${TAG}`;
    builderImages.push(tampered);
    podman(['build', '--quiet', '--tag', tampered, context]);
    podman(['push', '--quiet', '--tls-verify=false', tampered, `docker://${registry.address}/tampered/usbip-1.0.0:${TAG}`]);

    const fleet = node(`${registry.address}/tampered`, 'KVC_BUILD_FALLBACK=no\n');
    const result = fleet.kvc(['build', 'usbip', KVER]);
    expect(result.status, result.stderr).to.equal(65);
    expect(result.stderr).to.include(`pull of ${registry.address}/tampered/usbip-1.0.0:${TAG} refused: Source image rejected: A signature was required, but no signature exists`);
    expect(result.stderr).to.include('not built (KVC_BUILD_FALLBACK=no)');
    expect(result.stderr).to.not.include('building localhost/usbip');
    expect(fleet.images(), 'nothing pulled, built or named on the node').to.deep.equal([]);
    const status = fleet.kvc(['status', 'usbip']);
    expect(status.status, status.stdout).to.equal(70);
    expect(status.stdout).to.include(`registry: kernel ${KVER}: pull of ${registry.address}/tampered/usbip-1.0.0:${TAG} refused: Source image rejected: A signature was required, but no signature exists; not built (KVC_BUILD_FALLBACK=no)`);
  });

  it('attack: a valid signature of another image replayed onto the tampered one is refused too', async () => {
    const signed = await publish('replay', { sign: true });
    const context = mkdtempSync(join(dir, 'replay-'));
    writeFileSync(join(context, 'Containerfile'), `FROM ${IMAGE()}\nLABEL io.kvc.note=replayed\n`);
    const tampered = `localhost/kvc-fleet-replay:${TAG}`;
    builderImages.push(tampered);
    podman(['build', '--quiet', '--tag', tampered, context]);
    podman(['push', '--quiet', '--tls-verify=false', tampered, `docker://${registry.address}/replay/usbip-1.0.0:${TAG}`]);
    const now = await manifestDigest(registry.address, 'replay/usbip-1.0.0', TAG);
    expect(now).to.not.equal(signed);
    // The signature manifest of the signed digest, put where the tampered digest's would be.
    const accept = { Accept: 'application/vnd.oci.image.manifest.v1+json' };
    const signature = await (await fetch(`http://${registry.address}/v2/replay/usbip-1.0.0/manifests/${signed.replace(':', '-')}.sig`, { headers: accept })).text();
    const put = await fetch(`http://${registry.address}/v2/replay/usbip-1.0.0/manifests/${now.replace(':', '-')}.sig`, { method: 'PUT', body: signature, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    expect(put.status).to.equal(201);

    const fleet = node(`${registry.address}/replay`, 'KVC_BUILD_FALLBACK=no\n');
    const result = fleet.kvc(['build', 'usbip', KVER]);
    expect(result.status, result.stderr).to.equal(65);
    expect(result.stderr).to.match(/refused: Source image rejected: .*(digest|sigstore disabled)/);
    expect(fleet.images()).to.deep.equal([]);
  });

  it('refused with KVC_BUILD_FALLBACK=yes (the instance\'s own key): kvc builds locally, and status says why', async () => {
    // A tiny instance (fleettiny: a name no other test uses) whose image is in the registry unsigned; its local build is seconds.
    const configDir = configDirs[0];
    mkdirSync(join(configDir, 'fleettiny'));
    writeFileSync(join(configDir, 'fleettiny', 'Containerfile'), 'FROM scratch\nCOPY hello.txt /hello.txt\n');
    writeFileSync(join(configDir, 'fleettiny', 'hello.txt'), 'built by kvc\n');
    writeFileSync(join(configDir, 'fleettiny.conf'), 'KMOD_CONTAINER_BUILD_CONTEXT=fleettiny\nKMOD_CONTAINER_BUILD_FILE=Containerfile\nKMOD_SOFTWARE_VERSION=1.0.0\nKMOD_NAMES=fleettiny\n');
    const builderTiny = `localhost/fleettiny-1.0.0:${TAG}`;
    builderImages.push(builderTiny);
    podman(['build', '--quiet', '--tag', builderTiny, join(configDir, 'fleettiny')]);
    podman(['push', '--quiet', '--tls-verify=false', builderTiny, `docker://${registry.address}/fallback/fleettiny-1.0.0:${TAG}`]);

    const fleet = node(`${registry.address}/fallback`, 'KVC_BUILD_FALLBACK=no\n');
    for (const name of ['fleettiny', 'fleettiny.conf']) execFileSync('cp', ['-r', join(configDir, name), fleet.configDir]);
    writeFileSync(join(fleet.configDir, 'fleettiny.conf'), `${readFileSync(join(fleet.configDir, 'fleettiny.conf'), 'utf8')}KVC_BUILD_FALLBACK=yes\n`);
    const result = fleet.kvc(['build', 'fleettiny', KVER]);
    expect(result.stderr).to.include(`pull of ${registry.address}/fallback/fleettiny-1.0.0:${TAG} refused: Source image rejected: A signature was required, but no signature exists`);
    expect(result.stderr).to.include(`building fleettiny for ${KVER} locally (KVC_BUILD_FALLBACK=yes)`);
    expect(result.stderr).to.include(`building localhost/fleettiny-1.0.0:${TAG} for kernel ${KVER}`);
    // The fixture has no module: the local build runs, and kvc's own check of it then says so.
    expect(result.status, result.stderr).to.equal(65);
    expect(result.stderr).to.include('is not usable');
    const status = fleet.kvc(['status', 'fleettiny']);
    expect(status.stdout).to.include(`registry: kernel ${KVER}: pull of ${registry.address}/fallback/fleettiny-1.0.0:${TAG} refused: Source image rejected: A signature was required, but no signature exists; built locally instead (KVC_BUILD_FALLBACK=yes)`);
  });

  it('the builder\'s private key given to a node as KVC_IMAGE_VERIFY_KEY: a configuration error (78) before any pull', () => {
    const fleet = node(`${registry.address}/tampered`);
    writeFileSync(join(fleet.configDir, 'kvc.conf'), readFileSync(join(fleet.configDir, 'kvc.conf'), 'utf8').replace(`${dir}/key.pub`, `${dir}/key.private`));
    const result = fleet.kvc(['build', 'usbip', KVER]);
    expect(result.status, result.stderr).to.equal(78);
    expect(result.stderr).to.include(`${dir}/key.private: KVC_IMAGE_VERIFY_KEY: holds a private key`);
    expect(result.stderr).to.not.include('pulling');
    expect(fleet.images()).to.deep.equal([]);
  });

  it('KVC_IMAGE_REPO without KVC_IMAGE_VERIFY_KEY: kvc check names it, and kvc build refuses (78) before any pull', () => {
    const configDir = makeConfigDir(`KVC_IMAGE_REPO=${registry.address}/tampered\n`);
    configDirs.push(configDir);
    const check = kvc(['check', 'usbip'], { configDir });
    expect(check.stdout + check.stderr).to.include('KVC_IMAGE_REPO: is set, but kvc.conf has no KVC_IMAGE_VERIFY_KEY');
    const build = kvc(['build', 'usbip', KVER], { configDir });
    expect(build.status, build.stderr).to.equal(78);
    expect(build.stderr).to.include('KVC_IMAGE_REPO: is set, but kvc.conf has no KVC_IMAGE_VERIFY_KEY').and.not.include('pulling');
  });

  it('an unreachable registry with KVC_BUILD_FALLBACK=no: the reason, nothing built', () => {
    const fleet = node('127.0.0.1:1/nothing', 'KVC_BUILD_FALLBACK=no\n');
    const result = fleet.kvc(['build', 'usbip', KVER]);
    expect(result.status, result.stderr).to.equal(65);
    expect(result.stderr).to.match(/pull of 127\.0\.0\.1:1\/nothing\/usbip-1\.0\.0:\S+ failed: .*connection refused/);
    expect(fleet.images()).to.deep.equal([]);
  });

  it('an image signed with the operator\'s key is pulled, verified and named, where podman has sigstore (Debian 12\'s podman 4.3 has not: then refused, nothing named)', async () => {
    await publish('signed', { sign: true });
    const fleet = node(`${registry.address}/signed`, 'KVC_BUILD_FALLBACK=no\n');
    const result = fleet.kvc(['build', 'usbip', KVER]);
    if (/sigstore disabled/.test(result.stderr)) {
      // This podman was built without sigstore: no signature can be verified, so none is accepted.
      expect(result.status, result.stderr).to.equal(65);
      expect(result.stderr).to.include('Source image rejected: Debian-local change: sigstore disabled (this podman was built without sigstore signature support');
      expect(fleet.images()).to.deep.equal([]);
      const status = fleet.kvc(['status', 'usbip']);
      expect(status.stdout).to.include('built without sigstore signature support');
      return;
    }
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.include('signature and checks passed');
    expect(fleet.images()).to.deep.equal([IMAGE()]);
    expect(existsSync(join(fleet.env.KVC_STATE_DIR, 'usbip', 'pull', `${KVER}.json`))).to.equal(true);
  });

  it('kvc publish reuses the builder\'s image and pushes it signed, recording the digest; a second run pushes nothing (where podman can sign)', () => {
    const repo = `${registry.address}/published`;
    const configDir = makeConfigDir(`KVC_BUILD_NETWORK=host\nKVC_IMAGE_REPO=${repo}\nKVC_IMAGE_VERIFY_KEY=${dir}/key.pub\nKVC_IMAGE_SIGN_KEY=${dir}/key.private\nKVC_IMAGE_SIGN_PASSPHRASE_FILE=${dir}/passphrase\nKVC_IMAGE_TLS_VERIFY=no\n`);
    configDirs.push(configDir);
    repos.push(repo);
    const env = { KVC_STATE_DIR: join(dir, 'builder-state') };
    const record = join(dir, 'builder-state', 'usbip', 'published', `${KVER}.json`);
    const first = kvc(['publish', 'usbip', KVER], { configDir, env });
    expect(first.stderr).to.include(`${IMAGE()} is up to date for ${KVER}; nothing to build`);
    if (/sigstore disabled/.test(first.stderr)) {
      // Debian 12's podman 4.3: signing fails, with podman's reason; nothing is recorded as published.
      expect(first.status, first.stderr).to.equal(70);
      expect(first.stderr).to.include(`pushing ${IMAGE()} to ${repo}/usbip-1.0.0:${TAG} failed`).and.include('Debian-local change: sigstore disabled');
      expect(existsSync(record)).to.equal(false);
      return;
    }
    expect(first.status, first.stderr).to.equal(0);
    expect(first.stdout).to.match(new RegExp(`^${repo.replace(/[.]/g, '\\.')}/usbip-1\\.0\\.0:${TAG}@sha256:[0-9a-f]{64}\n$`));
    const second = kvc(['publish', 'usbip', KVER], { configDir, env });
    expect(second.status, second.stderr).to.equal(0);
    expect(second.stdout).to.include('(already published, nothing pushed)');
  });

  describe('GPG simple signing, the kind Debian 12\'s podman 4.3 verifies (signatures in a file:// folder)', () => {
    let builderKey;
    let otherKey;
    const store = () => join(dir, 'signatures');
    const gpgNode = (path, signatures = `file://${store()}`) => node(`${registry.address}/${path}`, `KVC_BUILD_FALLBACK=no\nKVC_IMAGE_SIGNATURES=${signatures}\n`, builderKey.publicKey);
    // The builder: kvc publish with the GPG key, its own state; returns the run and the pushed digest.
    function publishGpg(path) {
      const repo = `${registry.address}/${path}`;
      const configDir = makeConfigDir(`KVC_BUILD_NETWORK=host\nKVC_IMAGE_REPO=${repo}\nKVC_IMAGE_VERIFY_KEY=${builderKey.publicKey}\nKVC_IMAGE_SIGNATURES=file://${store()}\nKVC_IMAGE_SIGN_KEY=${builderKey.fingerprint}\nKVC_IMAGE_SIGN_GNUPGHOME=${builderKey.home}\nKVC_IMAGE_TLS_VERIFY=no\n`);
      configDirs.push(configDir);
      repos.push(repo);
      const run = () => kvc(['publish', 'usbip', KVER], { configDir, env: { KVC_STATE_DIR: join(dir, `builder-${path}`) } });
      const result = run();
      expect(result.status, result.stderr).to.equal(0);
      return { result, digest: /@(sha256:[0-9a-f]{64})/.exec(result.stdout)?.[1], again: run };
    }
    // A node refused the image: exit 65, the reason, nothing stored, and kvc status says it.
    function expectRefused(fleet, path, reason) {
      const result = fleet.kvc(['build', 'usbip', KVER]);
      expect(result.status, result.stderr).to.equal(65);
      const line = `registry: kernel ${KVER}: pull of ${registry.address}/${path}/usbip-1.0.0:${TAG} refused: Source image rejected: ${reason}`;
      expect(result.stderr).to.include('GPG signatures from file://').and.include(`refused: Source image rejected: ${reason}`).and.include('not built (KVC_BUILD_FALLBACK=no)');
      expect(result.stderr).to.not.include('building localhost/usbip');
      expect(fleet.images(), 'nothing pulled, built or named on the node').to.deep.equal([]);
      const status = fleet.kvc(['status', 'usbip']);
      expect(status.status, status.stdout).to.equal(70);
      expect(status.stdout).to.include(line).and.include('not built (KVC_BUILD_FALLBACK=no)');
    }

    before(() => {
      builderKey = makeGpgKey(join(dir, 'gpg-builder'), 'kvc-builder');
      otherKey = makeGpgKey(join(dir, 'gpg-other'), 'someone-else');
    });

    after(() => {
      for (const key of [builderKey, otherKey]) key?.stop();
    });

    it('kvc publish signs into the folder (a second run pushes nothing); a fresh node pulls it, podman\'s policy and kvc\'s checks accept it, and it gets its local name; a node reading the folder over http too', async () => {
      const { result, digest, again } = publishGpg('gpg');
      expect(result.stdout).to.match(new RegExp(`^${registry.address.replace(/[.]/g, '\\.')}/gpg/usbip-1\\.0\\.0:${TAG}@sha256:[0-9a-f]{64}\n$`));
      expect(result.stderr).to.include(`signed (GPG key ${builderKey.fingerprint}, signature in ${store()})`);
      expect(existsSync(signatureFile(store(), 'gpg/usbip-1.0.0', digest)), 'the signature in the lookaside folder').to.equal(true);
      const second = again();
      expect(second.status, second.stderr).to.equal(0);
      expect(second.stdout).to.include('(already published, nothing pushed)');

      const fleet = gpgNode('gpg');
      const pulled = fleet.kvc(['build', 'usbip', KVER]);
      expect(pulled.status, pulled.stderr).to.equal(0);
      expect(pulled.stderr).to.include(`GPG signatures from file://${store()}`).and.include(`pulled ${registry.address}/gpg/usbip-1.0.0:${TAG} as ${IMAGE()}: signature and checks passed`);
      expect(pulled.stderr).to.not.include('building localhost/usbip');
      expect(fleet.images()).to.deep.equal([IMAGE()]);
      const status = fleet.kvc(['status', 'usbip']);
      expect(status.stdout).to.include(`registry: kernel ${KVER}: pulled ${registry.address}/gpg/usbip-1.0.0:${TAG}, signature and checks passed`);

      // The builder's folder served over HTTP, as nodes without a shared mount read it.
      const web = await serveFolder(store());
      try {
        const overHttp = gpgNode('gpg', web.url);
        const viaHttp = overHttp.kvc(['build', 'usbip', KVER]);
        expect(viaHttp.status, viaHttp.stderr).to.equal(0);
        expect(viaHttp.stderr).to.include(`GPG signatures from ${web.url}`).and.include('signature and checks passed');
        expect(overHttp.images()).to.deep.equal([IMAGE()]);
      } finally {
        web.stop();
      }
    });

    it('a GPG key without KVC_IMAGE_SIGNATURES: kvc check names it, and kvc build refuses (78) before any pull', () => {
      const fleet = node(`${registry.address}/gpg`, 'KVC_BUILD_FALLBACK=no\n', builderKey.publicKey);
      const check = fleet.kvc(['check', 'usbip']);
      expect(check.stdout + check.stderr).to.include(`KVC_IMAGE_SIGNATURES: is not set, but KVC_IMAGE_VERIFY_KEY (${builderKey.publicKey}) is a GPG key`);
      const build = fleet.kvc(['build', 'usbip', KVER]);
      expect(build.status, build.stderr).to.equal(78);
      expect(build.stderr).to.include('KVC_IMAGE_SIGNATURES: is not set').and.not.include('pulling');
      expect(fleet.images()).to.deep.equal([]);
    });

    describe('attacks on a published image', () => {
      let tamperedDigest;
      let signedDigest;
      const PATH = 'gpg-tamper';
      const tamperedSignature = () => signatureFile(store(), `${PATH}/usbip-1.0.0`, tamperedDigest);

      before(async () => {
        signedDigest = publishGpg(PATH).digest;
        // The attacker re-pushes the tag with one layer changed (a tool the host commands run replaced).
        const context = mkdtempSync(join(dir, 'gpg-tamper-'));
        writeFileSync(join(context, 'usbip'), '#!/bin/sh\necho owned\n');
        writeFileSync(join(context, 'Containerfile'), `FROM ${IMAGE()}\nCOPY usbip /usr/sbin/usbip\n`);
        const tampered = `localhost/kvc-fleet-gpg-tampered:${TAG}`;
        builderImages.push(tampered);
        podman(['build', '--quiet', '--tag', tampered, context]);
        podman(['push', '--quiet', '--tls-verify=false', tampered, `docker://${registry.address}/${PATH}/usbip-1.0.0:${TAG}`]);
        tamperedDigest = await manifestDigest(registry.address, `${PATH}/usbip-1.0.0`, TAG);
        expect(tamperedDigest).to.not.equal(signedDigest);
      });

      beforeEach(() => rmSync(dirname(tamperedSignature()), { recursive: true, force: true }));

      it('attack: the tampered image with the genuine signature copied beside it is refused (the signature is of another manifest)', () => {
        mkdirSync(dirname(tamperedSignature()), { recursive: true });
        copyFileSync(signatureFile(store(), `${PATH}/usbip-1.0.0`, signedDigest), tamperedSignature());
        expectRefused(gpgNode(PATH), PATH, `Signature for digest ${signedDigest} does not match`);
      });

      it('attack: the tampered image signed by another GPG key is refused', async () => {
        await signWith(otherKey, store(), registry.address, `${PATH}/usbip-1.0.0`, TAG, tamperedDigest);
        expectRefused(gpgNode(PATH), PATH, `Invalid GPG signature: made by GPG key ${otherKey.fingerprint}, which KVC_IMAGE_VERIFY_KEY does not hold`);
      });

      it('attack: the tampered image with no signature is refused', () => {
        expectRefused(gpgNode(PATH), PATH, 'A signature was required, but no signature exists');
      });
    });
  });
});

// The node folders made under dir.
function readdirNodes(dir) {
  return execFileSync('find', [dir, '-maxdepth', '1', '-name', 'node-*'], { encoding: 'utf8' }).split('\n').filter((line) => line !== '');
}
