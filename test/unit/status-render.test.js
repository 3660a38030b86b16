// Unit tests: kvc status's text and JSON come from one report and say the same, field by field
// (fixtures of every kernel state, an image of another version, failed probes, a broken .conf).
import { expect } from 'chai';
import { formatStatus, problemsOf, statusExit } from '../../lib/ops/status.js';

const image = (kver, version = '1.0.0') => ({ name: `localhost/usbip-${version}:${kver}`, size: 181e6, created: '2026-12-01T10:00:00Z' });
const kernel = (kver, state, over = {}) => ({ kver, state, running: false, nextBoot: false, installed: true, image: null, reason: null, retryAt: null, log: null, ...over });
const kernels = [
  kernel('6.12.117+deb12-amd64', 'built', { nextBoot: true, image: image('6.12.117+deb12-amd64'), provides: ['usbcore'] }),
  kernel('6.1.0-56-amd64', 'built', { running: true, image: image('6.1.0-56-amd64'), probeError: 'reading /usr/lib/kvc/provides from localhost/usbip-1.0.0:6.1.0-56-amd64 failed (exit 125): Error: OCI runtime error' }),
  kernel('6.1.0-55-amd64', 'missing'),
  kernel('6.1.0-54-amd64', 'failed', { reason: 'building … failed at STEP 3/14', retryAt: '2026-12-01T12:00:00.000Z', log: '/var/log/kvc/usbip/6.1.0-54-amd64.log' }),
  kernel('6.1.0-53-amd64', 'refused', { reason: 'kernel 6.1.0-53-amd64 cannot take usbip\'s modules: CONFIG_USB is not set' }),
  kernel('6.1.0-52-amd64', 'stale', { image: image('6.1.0-52-amd64'), reason: 'it was built with build args "A=1", KVC_BUILD_ARGS now says none' }),
  kernel('6.1.0-51-amd64', 'not-kept'),
];
const instance = (over = {}) => ({
  name: 'usbip', config: '/etc/kvc/usbip.conf', error: null, softwareVersion: '1.0.0', context: null,
  images: [
    ...kernels.filter((k) => k.image !== null).map((k) => ({ kernel: k.kver, image: k.image.name, id: 'abc', size: 1, created: '', running: k.running })),
    // Of another version: its kernel has no image of this version, and the text must not hide it.
    { kernel: '6.1.0-55-amd64', image: 'localhost/usbip-0.9.0:6.1.0-55-amd64', id: 'def', size: 1, created: '', running: false },
    { kernel: '6.1.0-51-amd64', image: 'localhost/usbip-0.9.0:6.1.0-51-amd64', id: 'ghi', size: 1, created: '', running: false },
  ],
  modules: [{ name: 'usbip-core', state: 'live', refcnt: 1, holders: [] }], toolsPid: 42,
  kernels: { nextBoot: '6.12.117+deb12-amd64', fromService: false, kernels, warnings: [] },
  ...over,
});
const report = (instances) => ({ runningKernel: '6.1.0-56-amd64', runtime: 'podman', configDir: '/etc/kvc', systemd: null, instances, problems: problemsOf(instances) });

describe('kvc status: text and JSON from one report', () => {
  const both = report([instance(), { ...instance(), name: 'broken', config: '/etc/kvc/broken.conf', error: '/etc/kvc/broken.conf: KMOD_NAMES: is required', kernels: null, images: [] }]);
  const json = JSON.parse(JSON.stringify(both));
  const text = formatStatus(both);
  const lineOf = (kver) => text.split('\n').find((line) => line.startsWith(`  kernel ${kver} `) || line.startsWith(`  kernel ${kver}:`));

  it('every kernel of the JSON has its line, with its roles, state, image, reason and probe error', () => {
    const words = { built: '', missing: 'no image', failed: 'build failed', refused: 'refused', stale: 'builds it again', 'not-kept': 'not built' };
    for (const k of json.instances[0].kernels.kernels) {
      const line = lineOf(k.kver);
      expect(line, k.kver).to.be.a('string');
      if (k.running) expect(line).to.include('running');
      if (k.nextBoot) expect(line).to.include('next boot');
      expect(line).to.include(words[k.state]);
      if (k.image !== null) expect(line).to.include(k.image.name);
      if (k.reason !== null) expect(line).to.include(k.reason);
      if (k.probeError !== undefined) expect(line).to.include(k.probeError);
      if (k.provides?.length > 0) expect(line).to.include(k.provides.join(', '));
      // An image the JSON lists for this kernel is named on its line, whatever its version.
      for (const listed of json.instances[0].images.filter((i) => i.kernel === k.kver)) expect(line, k.kver).to.include(listed.image);
    }
  });

  it('images, modules, tools container and a configuration error agree', () => {
    expect(text.includes('images: none built')).to.equal(json.instances[0].images.length === 0);
    expect(text).to.include('modules: usbip-core=live(used 1)');
    expect(text).to.include('tools container: pid 42');
    expect(text).to.include(`configuration error: ${json.instances[1].error}`);
  });

  it('problems: listed in both, and they decide the exit status (78 config, 70 a failed probe, 0 none)', () => {
    expect(json.problems.map((p) => p.kind)).to.deep.equal(['probe', 'config']);
    for (const problem of json.problems) expect(text).to.include(`  ${problem.what}`);
    expect(statusExit(both)).to.equal(78);
    expect(statusExit(report([instance()]))).to.equal(70);
    const healthy = instance({ kernels: { ...instance().kernels, kernels: kernels.map(({ probeError, ...k }) => k) } });
    expect(statusExit(report([healthy]))).to.equal(0);
    expect(formatStatus(report([healthy]))).to.not.include('problems');
  });
});
