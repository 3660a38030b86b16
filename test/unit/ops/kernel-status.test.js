// Unit tests: what `kvc status` says per kernel. Real folders for the host's /lib/modules, the
// service's state file and the build logs; the image list is data in the runtime's shape (the
// real podman's is covered by the integration tests of status).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { kernelReport } from '../../../lib/ops/kernel-status.js';
import { formatStatus } from '../../../lib/ops/status-text.js';
import { toServiceState } from '../../../lib/service/service-state.js';
import { createLogger } from '../../../lib/log/logger.js';
import { createKvcKey } from '../../../lib/signing/create-key.js';
import { signerLabel, signerOf } from '../../../lib/signing/signer.js';

const settings = { name: 'usbip', confPath: '/etc/kvc/usbip.conf', softwareVersion: '1.0.0', modules: ['usbip-core'], kernelRequires: ['CONFIG_USB'], buildArgs: {} };
const image = (kver, version = '1.0.0') => ({ id: `id${kver}`, names: [`localhost/usbip-${version}:${kver}`], labels: { 'io.kvc.instance': 'usbip', 'io.kvc.kernel': kver, 'io.kvc.version': version }, created: '2026-11-24T10:00:00Z', size: 180e6 });

describe('kvc status per kernel (real folders; image list as data)', () => {
  let root;
  let ctx;
  const install = (kver, config) => {
    mkdirSync(join(root, 'lib/modules', kver), { recursive: true });
    writeFileSync(join(root, 'lib/modules', kver, 'modules.dep'), '');
    if (config !== undefined) writeFileSync(join(root, 'lib/modules', kver, 'config'), config);
  };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'kvc-kstatus-'));
    mkdirSync(join(root, 'proc'));
    writeFileSync(join(root, 'proc/modules'), '');
    ctx = { configDir: '/etc/kvc', logger: createLogger({ style: 'plain', stream: new PassThrough() }), hostRoot: root, runDir: join(root, 'run'), logDir: join(root, 'log'), keys: { keyDir: join(root, 'keys'), dkmsDir: join(root, 'dkms') }, runningKernel: '6.1.0-56-amd64', interactive: false };
    install('6.1.0-56-amd64');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('without a service: built, missing (with its last log), refused (why), and a warning for the next boot', async () => {
    install('6.12.117+deb12-amd64');
    install('6.1.0-58-cloud-amd64', 'CONFIG_MODULES=y\n# CONFIG_USB is not set\n');
    mkdirSync(join(root, 'log/usbip'), { recursive: true });
    writeFileSync(join(root, 'log/usbip/6.12.117+deb12-amd64.2026-11-24T10-00-00-000Z.log'), 'error\n');
    const report = await kernelReport(ctx, settings, [image('6.1.0-56-amd64')], 3);
    const by = Object.fromEntries(report.kernels.map((k) => [k.kver, k]));
    expect(report.nextBoot).to.equal('6.12.117+deb12-amd64');
    expect(by['6.1.0-56-amd64']).to.include({ state: 'built', running: true });
    expect(by['6.12.117+deb12-amd64']).to.include({ state: 'missing', nextBoot: true, log: join(root, 'log/usbip/6.12.117+deb12-amd64.2026-11-24T10-00-00-000Z.log') });
    expect(by['6.1.0-58-cloud-amd64'].state).to.equal('refused');
    expect(by['6.1.0-58-cloud-amd64'].reason).to.match(/CONFIG_USB is not set/);
    expect(report.warnings).to.deep.equal(['the kernel that boots next, 6.12.117+deb12-amd64, has no usbip image (missing): run `kvc build usbip 6.12.117+deb12-amd64` or start kvc@usbip']);
  });

  it('an image built with other build args than KVC_BUILD_ARGS is stale, saying which; one with the same is built', async () => {
    install('6.1.0-50-amd64');
    const labelled = (kver, buildArgs) => { const i = image(kver); i.labels['io.kvc.build-args'] = buildArgs; return i; };
    const withArgs = { ...settings, buildArgs: { USBIP_VHCI_NR_HCS: '16' } };
    const report = await kernelReport(ctx, withArgs, [labelled('6.1.0-56-amd64', 'USBIP_VHCI_NR_HCS=16'), image('6.1.0-50-amd64')], 3);
    const by = Object.fromEntries(report.kernels.map((k) => [k.kver, k]));
    expect(by['6.1.0-56-amd64']).to.include({ state: 'built', reason: null });
    expect(by['6.1.0-50-amd64']).to.include({ state: 'stale', reason: 'it was built with build args none, KVC_BUILD_ARGS now says "USBIP_VHCI_NR_HCS=16"' });
    expect(by['6.1.0-50-amd64'].image).to.not.equal(null);
    const none = await kernelReport(ctx, settings, [image('6.1.0-56-amd64'), image('6.1.0-50-amd64')], 3);
    expect(none.kernels.map((k) => k.state), 'no label, no KVC_BUILD_ARGS: up to date').to.deep.equal(['built', 'built']);
  });

  it('with a signing key: an image signed with it is built; an unsigned one, or one signed otherwise, is stale, saying why', async () => {
    install('6.1.0-50-amd64');
    install('6.1.0-52-amd64');
    const key = await createKvcKey(ctx.keys);
    const signed = (kver, label) => { const i = image(kver); i.labels['io.kvc.signer'] = label; return i; };
    const report = await kernelReport(ctx, settings, [signed('6.1.0-56-amd64', signerLabel(signerOf(key.certificate))), image('6.1.0-50-amd64'), signed('6.1.0-52-amd64', 'keyid=ab; serial=cd; subject=CN=old key')], 3);
    const by = Object.fromEntries(report.kernels.map((k) => [k.kver, k]));
    expect(by['6.1.0-56-amd64']).to.include({ state: 'built', reason: null });
    expect(by['6.1.0-50-amd64']).to.include({ state: 'stale', reason: `its modules are not signed, and kvc now signs with ${key.certificate.subject} (key id ${key.certificate.keyId})` });
    expect(by['6.1.0-52-amd64'].reason).to.match(/^its modules are signed by CN=old key \(key id ab\), but kvc now signs with/);
  });

  it('with a running service: building, queued and failed (reason, next retry) come from it', async () => {
    install('6.12.117+deb12-amd64');
    install('6.1.0-58-amd64');
    install('6.1.0-57-amd64');
    const kernels = ['6.12.117+deb12-amd64', '6.1.0-58-amd64', '6.1.0-57-amd64'].map((kver) => ({ kver, action: 'build', running: false, nextBoot: kver.startsWith('6.12'), installed: true }));
    const state = toServiceState({
      building: { kver: '6.12.117+deb12-amd64', since: Date.parse('2026-11-24T11:00:00Z') }, queued: ['6.1.0-57-amd64'],
      failed: new Map([['6.1.0-58-amd64', { reason: 'building … failed at STEP 3/14: RUN apt-get …', attempt: 2, retryAt: Date.parse('2026-11-24T12:00:00Z') }]]),
      refused: new Map(), kernels: [...kernels.slice(0, 1), { ...kernels[1], action: 'wait' }, kernels[2]], nextBoot: '6.12.117+deb12-amd64',
    }, process.pid, new Date());
    mkdirSync(join(root, 'run/usbip'), { recursive: true });
    writeFileSync(join(root, 'run/usbip/service.json'), JSON.stringify(state));
    const report = await kernelReport(ctx, settings, [image('6.1.0-56-amd64')], 3);
    const by = Object.fromEntries(report.kernels.map((k) => [k.kver, k]));
    expect(report.fromService).to.equal(true);
    expect(by['6.12.117+deb12-amd64'].state).to.equal('building');
    expect(by['6.1.0-57-amd64'].state).to.equal('queued');
    expect(by['6.1.0-58-amd64']).to.include({ state: 'failed', retryAt: '2026-11-24T12:00:00.000Z' });
    const text = formatStatus({ runningKernel: ctx.runningKernel, runtime: 'podman', configDir: '/etc/kvc', systemd: null, problems: [], instances: [{
      name: 'usbip', config: '/etc/kvc/usbip.conf', error: null, softwareVersion: '1.0.0', context: null, images: [{ kernel: '6.1.0-56-amd64', version: '1.0.0', image: 'localhost/usbip-1.0.0:6.1.0-56-amd64', id: 'x', size: 180e6, created: '2026-11-24T10:00:00Z', running: true }], modules: [], toolsPid: null, kernels: report,
    }] });
    expect(text).to.include('kernel 6.12.117+deb12-amd64 (next boot): building now');
    expect(text).to.include('kernel 6.1.0-58-amd64: build failed: building … failed at STEP 3/14: RUN apt-get …; next try 2026-11-24 12:00:00');
    expect(text).to.include('kernel 6.1.0-56-amd64 (running): localhost/usbip-1.0.0:6.1.0-56-amd64, 180 MB, built 2026-11-24 10:00');
    expect(text).to.include('warning: the kernel that boots next, 6.12.117+deb12-amd64, has no usbip image (building)');
  });

  it('a state file left by a service that died is ignored', async () => {
    mkdirSync(join(root, 'run/usbip'), { recursive: true });
    writeFileSync(join(root, 'run/usbip/service.json'), JSON.stringify({ pid: 2 ** 22 + 7, kernels: [] }));
    const report = await kernelReport(ctx, settings, [image('6.1.0-56-amd64')], 3);
    expect(report.fromService).to.equal(false);
  });
});
