// Unit tests: the reconciler carrying out its plan. Real module folders, the real instance lock
// (flock) and real timers; the container runtime is a fake holding a list of images, and the build
// is a recording function that adds the image (podman builds are what the integration test of
// the service covers).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Reconciler } from '../../../lib/service/reconciler.js';
import { withInstanceLock } from '../../../lib/ops/lock.js';
import { createLogger } from '../../../lib/log/logger.js';
import { createKvcKey } from '../../../lib/signing/create-key.js';
import { findSigningKey } from '../../../lib/signing/signing-key.js';
import { signerLabel, signerOf } from '../../../lib/signing/signer.js';
import { imageTagFor } from '../../../lib/images/names.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// Waits for a condition (polled every 10 ms), failing after `ms`: no fixed sleep that a loaded machine outlasts.
async function until(condition, what, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${what}`);
    await sleep(10);
  }
}
const settings = { name: 'usbip', softwareVersion: '1.0.0', modules: ['usbip-core'], buildArgs: {} };

class FakeImages {
  constructor(kvers = []) { this.images = kvers.map((kver) => this.image(kver)); this.removed = []; this.dryRun = false; }
  image(kver, name = `localhost/usbip-1.0.0:${imageTagFor(kver)}`) { return { id: `id-${kver}`, names: [name], labels: { 'io.kvc.instance': 'usbip', 'io.kvc.kernel': kver, 'io.kvc.version': '1.0.0' }, created: '', size: 1 }; }
  async imagesWithLabel(label, value) { return this.images.filter((i) => i.labels[label] === value); }
  async removeImage(ref) { this.removed.push(ref); this.images = this.images.filter((i) => !i.names.includes(ref) && i.id !== ref); }
}

describe('reconciler (real folders, lock and timers; fake image list and build)', function () {
  this.timeout(20000);
  let root;
  let lifetime;
  let runtime;
  let reconciler;
  let log;
  const install = (kver, { old = true } = {}) => {
    const dir = join(root, 'lib/modules', kver);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'modules.dep'), '');
    if (old) utimesSync(dir, new Date(Date.now() - 60000), new Date(Date.now() - 60000));
  };
  const make = (build, over = {}) => {
    const stream = new PassThrough();
    stream.on('data', (chunk) => log.push(String(chunk)));
    const ctx = { configDir: '/x', runtime, logger: createLogger({ style: 'plain', stream }), hostRoot: root, runDir: join(root, 'run'), keys: { keyDir: join(root, 'keys'), dkmsDir: join(root, 'dkms') }, runningKernel: '6.1.0-56-amd64', interactive: false };
    reconciler = new Reconciler({ ctx, settings, keep: 3, build, retryBaseMs: 200, retryMaxMs: 1000, intervalMs: 60000, settleMs: 1000, signal: lifetime.signal, staged: () => undefined, ...over });
    return ctx;
  };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'kvc-reconcile-'));
    lifetime = new AbortController();
    runtime = new FakeImages(['6.1.0-56-amd64']);
    log = [];
    install('6.1.0-56-amd64');
  });
  afterEach(async () => {
    lifetime.abort(new Error('test over'));
    await reconciler?.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('an image an older kvc tagged otherwise (6.12.117_deb12-amd64, "+" as "_") is not the kernel\'s: its image is built under today\'s name, then the old one pruned', async () => {
    install('6.12.117+deb12-amd64');
    runtime.images.push(runtime.image('6.12.117+deb12-amd64', 'localhost/usbip-1.0.0:6.12.117_deb12-amd64'));
    const built = [];
    make(async (kver) => {
      built.push(kver);
      runtime.images.push({ ...runtime.image(kver), id: `new-${kver}` });
    });
    reconciler.request('service started');
    await reconciler.idle();
    expect(built).to.deep.equal(['6.12.117+deb12-amd64']);
    expect(runtime.removed).to.deep.equal(['localhost/usbip-1.0.0:6.12.117_deb12-amd64']);
    expect(runtime.images.flatMap((image) => image.names)).to.include('localhost/usbip-1.0.0:_6.12.117_pdeb12-amd64');
  });

  it('the first pass builds kernels installed while the service was down, next boot first, one at a time, each once', async () => {
    install('6.1.0-50-amd64');
    install('6.12.117+deb12-amd64');
    const built = [];
    let running = 0;
    let most = 0;
    make(async (kver) => {
      running += 1;
      most = Math.max(most, running);
      built.push(kver);
      for (let i = 0; i < 5; i += 1) reconciler.request('a burst of events');
      await sleep(50);
      runtime.images.push(runtime.image(kver));
      running -= 1;
    });
    reconciler.request('service started');
    await reconciler.idle();
    expect(built).to.deep.equal(['6.12.117+deb12-amd64', '6.1.0-50-amd64']);
    expect(most).to.equal(1);
    expect(reconciler.state().kernels.every((k) => k.action === 'ready')).to.equal(true);
  });

  it('rebuilds an image built with other build args than the instance\'s, saying why; an unlabelled image counts as built with none', async () => {
    install('6.1.0-50-amd64');
    runtime.images.push(runtime.image('6.1.0-50-amd64'));
    runtime.images[0].labels['io.kvc.build-args'] = 'USBIP_VHCI_NR_HCS=8';
    const built = [];
    make(async (kver) => {
      built.push(kver);
      runtime.images = runtime.images.filter((i) => i.labels['io.kvc.kernel'] !== kver);
      runtime.images.push(runtime.image(kver));
    });
    reconciler.request('service started');
    await reconciler.idle();
    // 6.1.0-56 (running) had USBIP_VHCI_NR_HCS=8, the conf none; 6.1.0-50 has no label: none.
    expect(built).to.deep.equal(['6.1.0-56-amd64']);
    expect(log.join('')).to.include('running kernel 6.1.0-56-amd64 has an image, but it was built with build args "USBIP_VHCI_NR_HCS=8", KVC_BUILD_ARGS now says none: building it');
    expect(reconciler.state().kernels.every((k) => k.action === 'ready')).to.equal(true);
  });

  it('builds again when KVC_BUILD_ARGS changed, and leaves an image with the same ones', async () => {
    runtime.images[0].labels['io.kvc.build-args'] = 'USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16';
    const built = [];
    make(async (kver) => { built.push(kver); }, { settings: { ...settings, buildArgs: { USBIP_VHCI_NR_HCS: '16', USBIP_VHCI_HC_PORTS: '15' } } });
    reconciler.request('service started');
    await reconciler.idle();
    expect(built).to.deep.equal([]);
    await reconciler.close();
    make(async (kver) => {
      built.push(kver);
      runtime.images = [{ ...runtime.image(kver), labels: { ...runtime.image(kver).labels, 'io.kvc.build-args': 'USBIP_VHCI_NR_HCS=4' } }];
    }, { settings: { ...settings, buildArgs: { USBIP_VHCI_NR_HCS: '4' } } });
    reconciler.request('conf changed');
    await reconciler.idle();
    expect(built).to.deep.equal(['6.1.0-56-amd64']);
    expect(log.join('')).to.include('built with build args "USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16", KVC_BUILD_ARGS now says "USBIP_VHCI_NR_HCS=4"');
  });

  it('a kernel folder still being written to is left for a later pass', async () => {
    install('6.1.0-58-amd64', { old: false });
    const built = [];
    make(async (kver) => { built.push(kver); runtime.images.push(runtime.image(kver)); });
    reconciler.request('service started');
    await reconciler.idle();
    expect(built).to.deep.equal([]);
    await sleep(1100);
    reconciler.request('kernel settled', '6.1.0-58-amd64');
    await reconciler.idle();
    expect(built).to.deep.equal(['6.1.0-58-amd64']);
  });

  it('a kernel installed with its image already there: one line says it is up to date, and nothing is built', async () => {
    const built = [];
    make(async (kver) => { built.push(kver); });
    reconciler.request('service started');
    await reconciler.idle();
    runtime.images.push(runtime.image('6.12.117+deb12-amd64'));
    install('6.12.117+deb12-amd64');
    reconciler.request('kernel settled', '6.12.117+deb12-amd64');
    await reconciler.idle();
    reconciler.request('periodic check');
    await reconciler.idle();
    expect(built).to.deep.equal([]);
    const lines = log.join('').split('\n').filter((line) => line.includes('up to date'));
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include('kernel 6.12.117+deb12-amd64 (next boot): its image localhost/usbip-1.0.0:_6.12.117_pdeb12-amd64 is up to date; nothing to build');
  });

  it('a failed build is remembered with its reason and retried by its own timer, with a growing delay', async () => {
    install('6.1.0-58-amd64');
    const times = [];
    const thrown = [];
    const failures = [];
    make(async (kver) => {
      times.push(Date.now());
      // The record of the last failure, as the retry that is now running found it.
      if (times.length > 1) failures.push(reconciler.state().failed.get(kver));
      if (times.length < 3) {
        thrown.push(Date.now());
        throw new Error(`headers for ${kver} not found`);
      }
      runtime.images.push(runtime.image(kver));
    });
    reconciler.request('service started');
    await reconciler.idle();
    const failure = reconciler.state().failed.get('6.1.0-58-amd64');
    expect(failure.reason).to.equal('headers for 6.1.0-58-amd64 not found');
    expect(failure.attempt).to.equal(1);
    expect(failure.retryAt).to.be.greaterThan(Date.now());
    expect(reconciler.state().kernels.find((k) => k.kver === '6.1.0-58-amd64').action).to.equal('wait');
    for (const start = Date.now(); (times.length < 3 || reconciler.state().failed.size > 0) && Date.now() - start < 10_000;) await sleep(20);
    await reconciler.idle();
    expect(times).to.have.length(3);
    // Each failure set its retry its delay after it was thrown, the delay doubling: 0.2 s, then
    // 0.4 s (the bounds leave room for the time from the throw to the record on a loaded machine).
    expect(failures.map((failure) => failure.attempt)).to.deep.equal([1, 2]);
    expect(failures[0].retryAt - thrown[0]).to.be.at.least(200).and.below(400);
    expect(failures[1].retryAt - thrown[1]).to.be.at.least(400).and.below(800);
    expect(reconciler.state().failed.size).to.equal(0);
  });

  it('a kernel removed during its build: the build is stopped, its image pruned, not retried', async () => {
    install('6.1.0-58-amd64');
    install('6.1.0-40-amd64');
    runtime.images.push(runtime.image('6.1.0-40-amd64'));
    let stopped = false;
    let started = false;
    make((kver, ctx, signal) => new Promise((resolve, reject) => {
      started = true;
      signal.addEventListener('abort', () => { stopped = true; reject(signal.reason); });
    }));
    reconciler.request('service started');
    await until(() => started, 'the build to start');
    expect(reconciler.state().building.kver).to.equal('6.1.0-58-amd64');
    rmSync(join(root, 'lib/modules/6.1.0-58-amd64'), { recursive: true });
    rmSync(join(root, 'lib/modules/6.1.0-40-amd64'), { recursive: true });
    reconciler.removed('6.1.0-58-amd64');
    reconciler.removed('6.1.0-40-amd64');
    await reconciler.idle();
    expect(stopped).to.equal(true);
    expect(runtime.removed).to.deep.equal(['localhost/usbip-1.0.0:6.1.0-40-amd64']);
    expect(reconciler.state().failed.size).to.equal(0);
    expect(log.join('')).to.match(/build for 6\.1\.0-58-amd64 stopped: kernel 6\.1\.0-58-amd64 was removed/);
  });

  it('the lifetime ending stops a build; close() then resolves', async () => {
    install('6.1.0-58-amd64');
    let stopped = false;
    let started = false;
    make((kver, ctx, signal) => new Promise((resolve, reject) => {
      started = true;
      signal.addEventListener('abort', () => { stopped = true; reject(signal.reason); });
    }));
    reconciler.request('service started');
    await until(() => started, 'the build to start');
    lifetime.abort(new Error('SIGTERM'));
    await reconciler.close();
    expect(stopped).to.equal(true);
    expect(reconciler.state().building).to.equal(undefined);
  });

  it('the lifetime ending stops a pass waiting for the lock', async () => {
    install('6.1.0-58-amd64');
    const built = [];
    const ctx = make(async (kver) => { built.push(kver); });
    let release;
    const held = withInstanceLock(ctx, 'usbip', 'kvc load usbip', { wait: true }, () => new Promise((resolve) => { release = resolve; }));
    await until(() => release !== undefined, 'the other operation to hold the lock');
    reconciler.request('service started');
    await until(() => log.join('').includes('waiting for process'), 'the pass to wait for the lock');
    lifetime.abort(new Error('SIGTERM'));
    const closed = Date.now();
    await reconciler.close();
    expect(Date.now() - closed).to.be.lessThan(1000);
    release();
    await held;
    expect(built).to.deep.equal([]);
  });

  it('holds a shutdown inhibitor while building a kernel that is not the running one, released however the build ends', async () => {
    install('6.1.0-58-amd64');
    install('6.1.0-57-amd64');
    runtime.images = [];
    const held = [];
    let open = 0;
    const builds = [];
    make(async (kver, ctx, signal) => {
      builds.push({ kver, open });
      if (kver === '6.1.0-57-amd64') throw new Error('no headers');
      runtime.images.push(runtime.image(kver));
    }, { inhibit: (why) => { held.push(why); open += 1; return { release: () => { open -= 1; } }; } });
    reconciler.request('service started');
    await reconciler.idle();
    expect(builds).to.deep.equal([
      { kver: '6.1.0-58-amd64', open: 1 },
      { kver: '6.1.0-56-amd64', open: 0 },
      { kver: '6.1.0-57-amd64', open: 1 },
    ]);
    expect(held).to.deep.equal(['building usbip modules for 6.1.0-58-amd64', 'building usbip modules for 6.1.0-57-amd64']);
    expect(open, 'every inhibitor released, the failed build\'s too').to.equal(0);
  });

  it('prunes and builds only under the instance lock', async () => {
    install('6.1.0-58-amd64');
    runtime.images.push(runtime.image('6.1.0-30-amd64'));
    const built = [];
    // KVC_KEEP_KERNELS=1: the next boot's kernel takes the one place, so 6.1.0-30's image goes.
    const ctx = make(async (kver) => { built.push(kver); runtime.images.push(runtime.image(kver)); }, { keep: 1 });
    let release;
    const held = withInstanceLock(ctx, 'usbip', 'kvc load usbip', { wait: true }, () => new Promise((resolve) => { release = resolve; }));
    await until(() => release !== undefined, 'the other operation to hold the lock');
    reconciler.request('service started');
    await until(() => log.join('').includes('waiting for process'), 'the pass to wait for the lock');
    await sleep(200);
    expect(runtime.removed, 'nothing pruned while another holds the lock').to.deep.equal([]);
    expect(built).to.deep.equal([]);
    release();
    await held;
    await reconciler.idle();
    expect(runtime.removed).to.deep.equal(['localhost/usbip-1.0.0:6.1.0-30-amd64']);
    expect(built).to.deep.equal(['6.1.0-58-amd64']);
  });

  // What a build with the key there now leaves: the kernel's image, labelled with its signer.
  const rebuildSigned = async (kver, keys) => {
    const key = await findSigningKey(undefined, keys);
    runtime.images = runtime.images.filter((i) => i.labels['io.kvc.kernel'] !== kver);
    const image = runtime.image(kver);
    runtime.images.push({ ...image, labels: { ...image.labels, 'io.kvc.signer': signerLabel(signerOf(key.certificate)) } });
  };

  it('a signing key that appears (or changes) makes the instance\'s images out of date: they are rebuilt, signed', async () => {
    const built = [];
    const ctx = make(async (kver) => { built.push(kver); await rebuildSigned(kver, ctx.keys); });
    reconciler.request('service started');
    await reconciler.idle();
    expect(built, 'no key: the unsigned image is up to date').to.deep.equal([]);
    const key = await createKvcKey(ctx.keys);
    reconciler.request('key created');
    await reconciler.idle();
    expect(built).to.deep.equal(['6.1.0-56-amd64']);
    expect(log.join('')).to.include(`its modules are not signed, and kvc now signs with ${key.certificate.subject} (key id ${key.certificate.keyId})`);
  });

  it('a kernel that refuses unsigned modules makes kvc create its key, and the unsigned image is rebuilt', async () => {
    mkdirSync(join(root, 'sys/kernel/security'), { recursive: true });
    writeFileSync(join(root, 'sys/kernel/security/lockdown'), 'none [integrity] confidentiality\n');
    const built = [];
    const ctx = make(async (kver) => { built.push(kver); await rebuildSigned(kver, ctx.keys); });
    reconciler.request('service started');
    await reconciler.idle();
    expect(built).to.deep.equal(['6.1.0-56-amd64']);
    expect(log.join('')).to.match(/locked down \(lockdown=integrity\).*created kvc's own signing key .*run kvc key enroll and reboot/s);
  });
});
