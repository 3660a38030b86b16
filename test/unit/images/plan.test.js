// Unit tests: the reconciler's plan, on data (what is installed, what images exist, what failed).
import { expect } from 'chai';
import { plan, staleness } from '../../../lib/images/plan.js';
import { signerLabel } from '../../../lib/signing/signer.js';

const memory = (refused = {}, retryAt = {}, removed = []) => ({ refused: new Map(Object.entries(refused)), retryAt: new Map(Object.entries(retryAt)), removed: new Set(removed) });
const image = (kver, version = '1.0.0') => ({ kver, version, ref: `localhost/usbip-${version}:${kver}` });
const desired = (over = {}) => ({ running: '6.1.0-56-amd64', installed: ['6.1.0-56-amd64'], version: '1.0.0', keep: 3, ...over });
const actions = (p) => Object.fromEntries(p.kernels.map((k) => [k.kver, k.action]));

describe('reconcile plan (pure, on data)', () => {
  it('nothing to do when every wanted kernel has its image', () => {
    const p = plan(desired(), [image('6.1.0-56-amd64')], memory(), 0);
    expect(p.build).to.deep.equal([]);
    expect(p.prune).to.deep.equal([]);
    expect(p.nextBoot).to.equal('6.1.0-56-amd64');
    expect(actions(p)).to.deep.equal({ '6.1.0-56-amd64': 'ready' });
  });

  it('kernels installed while the service was down are built, the next boot\'s (newest) first, across series', () => {
    const p = plan(desired({ installed: ['6.1.0-56-amd64', '6.1.0-50-amd64', '6.12.117+deb12-amd64', '6.1.0-58-amd64'] }), [], memory(), 0);
    expect(p.nextBoot).to.equal('6.12.117+deb12-amd64');
    expect(p.build).to.deep.equal(['6.12.117+deb12-amd64', '6.1.0-56-amd64', '6.1.0-58-amd64', '6.1.0-50-amd64']);
  });

  it('rpm-ostree\'s staged kernel is the next boot, even when older than an installed one', () => {
    const p = plan(desired({ installed: ['6.1.0-56-amd64', '6.1.0-60-amd64'], staged: '6.1.0-58-amd64' }), [image('6.1.0-56-amd64')], memory(), 0);
    expect(p.nextBoot).to.equal('6.1.0-58-amd64');
    expect(p.build).to.deep.equal(['6.1.0-58-amd64', '6.1.0-60-amd64']);
  });

  it('keeps the running kernel, the next boot and the newest KVC_KEEP_KERNELS: older ones are neither built nor kept', () => {
    const installed = ['6.1.0-9-amd64', '6.1.0-10-amd64', '6.1.0-11-amd64', '6.1.0-12-amd64', '6.1.0-13-amd64'];
    const images = installed.map((k) => image(k));
    const p = plan(desired({ running: '6.1.0-9-amd64', installed, keep: 3 }), images, memory(), 0);
    expect(p.prune).to.deep.equal(['localhost/usbip-1.0.0:6.1.0-10-amd64']);
    const q = plan(desired({ running: '6.1.0-9-amd64', installed, keep: 1 }), [image('6.1.0-9-amd64')], memory(), 0);
    expect(q.build, 'keep 1: the next boot only').to.deep.equal(['6.1.0-13-amd64']);
    expect(actions(q)['6.1.0-12-amd64']).to.equal('skip');
    const none = plan(desired({ running: '6.1.0-9-amd64', installed, keep: 0 }), [], memory(), 0);
    expect(none.build, 'keep 0 still builds the next boot').to.deep.equal(['6.1.0-13-amd64', '6.1.0-9-amd64']);
  });

  it('prunes the images of kernels seen removed at once, never the running kernel\'s', () => {
    const p = plan(desired({ installed: [] }), [image('6.1.0-56-amd64'), image('6.1.0-50-amd64')], memory({}, {}, ['6.1.0-50-amd64', '6.1.0-56-amd64']), 0);
    expect(p.prune).to.deep.equal(['localhost/usbip-1.0.0:6.1.0-50-amd64']);
    expect(p.build).to.deep.equal([]);
  });

  it('an image built for a kernel not installed here is kept within KVC_KEEP_KERNELS, and nothing is built for such kernels', () => {
    const images = ['6.1.0-56-amd64', '6.1.0-40-amd64', '6.1.0-41-amd64'].map((k) => image(k));
    const p = plan(desired({ keep: 1 }), images, memory(), 0);
    expect(actions(p)).to.deep.equal({ '6.1.0-56-amd64': 'ready', '6.1.0-41-amd64': 'ready', '6.1.0-40-amd64': 'prune' });
    expect(p.prune).to.deep.equal(['localhost/usbip-1.0.0:6.1.0-40-amd64']);
    const old = plan(desired({ keep: 3 }), [image('6.1.0-56-amd64'), image('6.1.0-40-amd64', '0.9')], memory(), 0);
    expect(old.build, 'an older version\'s image of a kernel not here is not rebuilt').to.deep.equal([]);
  });

  it('an image built with other build args than KVC_BUILD_ARGS is built again; one without the label counts as built with none', () => {
    const args = (kver, buildArgs) => ({ ...image(kver), buildArgs });
    const installed = ['6.1.0-56-amd64', '6.1.0-50-amd64'];
    const wanted = 'USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16';
    const p = plan(desired({ installed, buildArgs: wanted }), [args('6.1.0-56-amd64', wanted), args('6.1.0-50-amd64', 'USBIP_VHCI_NR_HCS=8')], memory(), 0);
    expect(actions(p)).to.deep.equal({ '6.1.0-56-amd64': 'ready', '6.1.0-50-amd64': 'build' });
    expect(p.prune, 'the stale image is replaced by the build, not pruned first').to.deep.equal([]);
    const none = plan(desired({ installed }), [image('6.1.0-56-amd64'), args('6.1.0-50-amd64', '')], memory(), 0);
    expect(none.build, 'no label and an empty label both equal no build args').to.deep.equal([]);
    const added = plan(desired({ installed, buildArgs: wanted }), [image('6.1.0-56-amd64'), image('6.1.0-50-amd64')], memory(), 0);
    expect(added.build, 'build args added to the conf: every image is stale').to.deep.equal(['6.1.0-56-amd64', '6.1.0-50-amd64']);
  });

  it('an older KMOD_SOFTWARE_VERSION\'s image is kept until the new one exists, then pruned', () => {
    const before = plan(desired(), [image('6.1.0-56-amd64', '0.9')], memory(), 0);
    expect(before.build).to.deep.equal(['6.1.0-56-amd64']);
    expect(before.prune).to.deep.equal([]);
    const after = plan(desired(), [image('6.1.0-56-amd64', '0.9'), image('6.1.0-56-amd64')], memory(), 0);
    expect(after.prune).to.deep.equal(['localhost/usbip-0.9:6.1.0-56-amd64']);
  });

  it('a refused kernel is not built; a failed one waits for its retry time', () => {
    const d = desired({ installed: ['6.1.0-56-amd64', '6.1.0-60-cloud-amd64', '6.1.0-58-amd64'] });
    const m = memory({ '6.1.0-60-cloud-amd64': 'CONFIG_USB is not set' }, { '6.1.0-58-amd64': 5000 });
    const early = plan(d, [image('6.1.0-56-amd64')], m, 4000);
    expect(early.build).to.deep.equal([]);
    expect(actions(early)).to.include({ '6.1.0-60-cloud-amd64': 'refused', '6.1.0-58-amd64': 'wait' });
    expect(early.nextRetryAt).to.equal(5000);
    const due = plan(d, [image('6.1.0-56-amd64')], m, 5000);
    expect(due.build).to.deep.equal(['6.1.0-58-amd64']);
  });

  it('converges: carrying out each plan step by step ends with nothing to do, and nothing is built twice', () => {
    let images = [image('6.1.0-40-amd64'), image('6.1.0-56-amd64', '0.9')];
    const d = desired({ installed: ['6.1.0-56-amd64', '6.1.0-58-amd64', '6.12.117+deb12-amd64', '6.1.0-30-amd64'], keep: 2 });
    const built = [];
    for (let i = 0; i < 10; i += 1) {
      const p = plan(d, images, memory(), 0);
      images = images.filter((img) => !p.prune.includes(img.ref));
      if (p.build.length === 0) break;
      built.push(p.build[0]);
      images.push(image(p.build[0]));
    }
    expect(built).to.deep.equal(['6.12.117+deb12-amd64', '6.1.0-56-amd64', '6.1.0-58-amd64']);
    expect(images.map((img) => img.ref).sort()).to.deep.equal(built.map((k) => image(k).ref).sort());
  });
});

describe('reconcile plan: a key change makes images out of date (pure, on data)', () => {
  const current = { keyId: '079c516759b46e5bd6df47f9d932579ae074e759', serial: '4a1f', subject: 'CN=kvc fixture signing key' };
  const old = { keyId: '61ea4c94296a2be0782cd59d7cc635af47cbeb47', serial: '77', subject: 'CN=DKMS module signing key' };
  const signed = (kver, signer) => ({ ...image(kver), signer: signerLabel(signer) });
  const installed = ['6.1.0-56-amd64', '6.1.0-50-amd64'];

  it('images signed by the key kvc signs with are ready; one signed by another key or unsigned is rebuilt', () => {
    const p = plan(desired({ installed, signer: current }), [signed('6.1.0-56-amd64', current), signed('6.1.0-50-amd64', old)], memory(), 0);
    expect(actions(p)).to.deep.equal({ '6.1.0-56-amd64': 'ready', '6.1.0-50-amd64': 'build' });
    const unsigned = plan(desired({ installed, signer: current }), [image('6.1.0-56-amd64'), { ...image('6.1.0-50-amd64'), signer: '' }], memory(), 0);
    expect(unsigned.build).to.deep.equal(['6.1.0-56-amd64', '6.1.0-50-amd64']);
    expect(unsigned.prune, 'the old image stays until its rebuild replaces it').to.deep.equal([]);
  });

  it('the reason names both keys', () => {
    expect(staleness(signed('6.1.0-56-amd64', old), { signer: current })).to.equal(`its modules are signed by CN=DKMS module signing key (key id ${old.keyId}), but kvc now signs with CN=kvc fixture signing key (key id ${current.keyId})`);
    expect(staleness({ ...signed('6.1.0-56-amd64', current), buildArgs: 'A=1' }, { signer: current }), 'build args first').to.match(/A=1/);
  });

  it('without a key nothing is rebuilt for its signer', () => {
    const p = plan(desired({ installed }), [signed('6.1.0-56-amd64', old), image('6.1.0-50-amd64')], memory(), 0);
    expect(p.build).to.deep.equal([]);
  });
});
