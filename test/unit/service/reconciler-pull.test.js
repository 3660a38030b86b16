// Unit tests: the reconciler with KVC_IMAGE_REPO set pulls ahead for the next boot's kernel as it
// builds ahead without one: its build step is kvc's real pullFirst (pull, verify, name, or fall
// back), on real folders, lock and timers; the runtime is a fake holding images and a registry.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Reconciler } from '../../../lib/service/reconciler.js';
import { pullFirst } from '../../../lib/ops/pull-first.js';
import { createLogger } from '../../../lib/log/logger.js';
import { RuntimeError } from '../../../lib/errors.js';
import { imageTagFor } from '../../../lib/images/names.js';

const REPO = '127.0.0.1:5000/kvc';
const settings = { name: 'usbip', softwareVersion: '1.0.0', modules: ['usbip-core'], buildArgs: {}, registry: { repo: undefined, fallback: undefined } };
const local = (kver) => `localhost/usbip-1.0.0:${imageTagFor(kver)}`;
const labels = (kver) => ({ 'io.kvc.instance': 'usbip', 'io.kvc.kernel': kver, 'io.kvc.version': '1.0.0' });

// Images by name; `registry` maps a remote name to what a pull gets: labels, or a refusal.
class FakeRuntime {
  constructor(registry) { this.registry = registry; this.images = [{ id: 'id-running', names: [local('6.1.0-56-amd64')], labels: labels('6.1.0-56-amd64') }]; this.pulls = []; this.dryRun = false; this.name = 'podman'; }
  async imagesWithLabel(label, value) { return this.images.filter((i) => i.labels[label] === value).map((i) => ({ ...i, created: '', size: 1 })); }
  async inspectImage(ref) { const image = this.images.find((i) => i.names.includes(ref)); return image === undefined ? undefined : { ...image, created: '', size: 1 }; }
  async pull(image, options) {
    this.pulls.push({ image, policy: readFileSync(options.policyFile, 'utf8') });
    const entry = this.registry[image];
    if (entry === undefined || entry.refuse !== undefined) {
      throw new RuntimeError(`pulling ${image} failed`, { command: ['podman', 'pull'], childExitCode: 125, stderrTail: `Error: ${entry?.refuse ?? 'reading manifest: manifest unknown'}` });
    }
    this.images.push({ id: `pulled-${image}`, names: [image], labels: entry.labels });
  }
  async probe(image) {
    const kver = this.images.find((i) => i.names.includes(image)).labels['io.kvc.kernel'];
    return { exitCode: 0, stdout: `filename: /lib/modules/${kver}/extra/usbip-core.ko\nname: usbip_core\nvermagic: ${kver} SMP preempt mod_unload modversions \n`, stderr: '' };
  }
  async tag(source, target) { this.images.find((i) => i.names.includes(source)).names.push(target); }
  async removeImage(ref) { for (const image of this.images) image.names = image.names.filter((name) => name !== ref); this.images = this.images.filter((i) => i.names.length > 0); }
}

describe('reconciler with KVC_IMAGE_REPO (real pullFirst; fake runtime and registry)', function () {
  this.timeout(20000);
  let root;
  let lifetime;
  let reconciler;
  const install = (kver) => {
    const dir = join(root, 'lib/modules', kver);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'modules.dep'), '');
    utimesSync(dir, new Date(Date.now() - 60000), new Date(Date.now() - 60000));
  };
  // The reconciler whose build step is pullFirst, then a recorded local build when it says so.
  const start = (runtime, fallback) => {
    const built = [];
    const ctx = {
      configDir: '/x', runtime, logger: createLogger({ style: 'plain', stream: new PassThrough() }), hostRoot: root, runDir: join(root, 'run'), stateDir: join(root, 'state'),
      keys: { keyDir: join(root, 'keys'), dkmsDir: join(root, 'dkms') }, runningKernel: '6.1.0-56-amd64', interactive: false,
      registry: { repo: { value: REPO, file: '/x/kvc.conf' }, fallback, verifyKey: join(root, 'image-signing.pub'), signatures: undefined, signKey: undefined, signPassphraseFile: undefined, signGnupgHome: undefined, tlsVerify: true },
    };
    reconciler = new Reconciler({
      ctx, settings, keep: 3, retryBaseMs: 60000, retryMaxMs: 60000, intervalMs: 60000, settleMs: 1000, signal: lifetime.signal, staged: () => undefined,
      build: async (kver, buildCtx) => {
        if ((await pullFirst(buildCtx, settings, kver)) === 'pulled') return;
        built.push(kver);
        runtime.images.push({ id: `built-${kver}`, names: [local(kver)], labels: labels(kver) });
      },
    });
    return built;
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'kvc-reconcile-pull-'));
    mkdirSync(join(root, 'etc/containers'), { recursive: true });
    writeFileSync(join(root, 'etc/containers/policy.json'), '{"default":[{"type":"insecureAcceptAnything"}]}');
    writeFileSync(join(root, 'image-signing.pub'), '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n');
    lifetime = new AbortController();
    install('6.1.0-56-amd64');
  });
  afterEach(async () => {
    lifetime.abort(new Error('test over'));
    await reconciler?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('a newly installed kernel (the next boot): its image is pulled with kvc\'s policy, verified and named, nothing built', async () => {
    install('6.12.117+deb12-amd64');
    const remote = `${REPO}/usbip-1.0.0:${imageTagFor('6.12.117+deb12-amd64')}`;
    const runtime = new FakeRuntime({ [remote]: { labels: labels('6.12.117+deb12-amd64') } });
    const built = start(runtime, undefined);
    reconciler.request('kernel installed');
    await reconciler.idle();
    expect(runtime.pulls.map((pull) => pull.image)).to.deep.equal([remote]);
    expect(JSON.parse(runtime.pulls[0].policy).transports.docker[REPO][0].type).to.equal('sigstoreSigned');
    expect(built).to.deep.equal([]);
    expect(runtime.images.flatMap((image) => image.names)).to.have.members([local('6.1.0-56-amd64'), local('6.12.117+deb12-amd64')]);
    expect(reconciler.state().kernels.every((kernel) => kernel.action === 'ready')).to.equal(true);
    expect(readFileSync(join(root, 'etc/containers/registries.d/kvc-127.0.0.1_5000_kvc.yaml'), 'utf8')).to.include('use-sigstore-attachments: true');
  });

  it('refused, KVC_BUILD_FALLBACK=no: nothing built, the kernel waits for a retry, the reason recorded', async () => {
    install('6.12.117+deb12-amd64');
    const remote = `${REPO}/usbip-1.0.0:${imageTagFor('6.12.117+deb12-amd64')}`;
    const runtime = new FakeRuntime({ [remote]: { refuse: 'Source image rejected: A signature was required, but no signature exists' } });
    const built = start(runtime, false);
    reconciler.request('kernel installed');
    await reconciler.idle();
    expect(built).to.deep.equal([]);
    expect(runtime.images.flatMap((image) => image.names)).to.deep.equal([local('6.1.0-56-amd64')]);
    const kernel = reconciler.state().kernels.find((entry) => entry.kver === '6.12.117+deb12-amd64');
    expect(kernel.action).to.equal('wait');
    const record = JSON.parse(readFileSync(join(root, 'state/usbip/pull/6.12.117+deb12-amd64.json'), 'utf8'));
    expect(record).to.include({ outcome: 'refused', fallback: 'none', reason: 'Source image rejected: A signature was required, but no signature exists' });
  });

  it('a pulled image of another instance (its labels; its modules would pass) is refused and removed; with the fallback the kernel is built here', async () => {
    install('6.12.117+deb12-amd64');
    const remote = `${REPO}/usbip-1.0.0:${imageTagFor('6.12.117+deb12-amd64')}`;
    const runtime = new FakeRuntime({ [remote]: { labels: { ...labels('6.12.117+deb12-amd64'), 'io.kvc.instance': 'other' } } });
    const built = start(runtime, true);
    reconciler.request('kernel installed');
    await reconciler.idle();
    expect(built).to.deep.equal(['6.12.117+deb12-amd64']);
    expect(runtime.images.flatMap((image) => image.names)).to.not.include(remote);
    const record = JSON.parse(readFileSync(join(root, 'state/usbip/pull/6.12.117+deb12-amd64.json'), 'utf8'));
    expect(record.reason).to.include('its label io.kvc.instance is "other", not "usbip"');
    expect(record.fallback).to.equal('built');
  });
});
