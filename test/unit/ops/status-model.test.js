// Unit tests: `kvc status` text and `--json` are one report. gatherStatus runs on real folders (a
// config folder with a good and a broken instance, the host's /lib/modules, /sys/module, the
// service's state file); the container runtime is a fake (its image list and probe results are
// data: the real podman is out of reach of a unit test, and the integration test status-probe
// covers it). Both renderings are made from the same report and compared field by field, both
// ways: every JSON field shows in the text, and the text claims nothing the JSON does not hold.
import { expect } from 'chai';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough } from 'node:stream';
import { gatherStatus, statusExit, statusJson } from '../../../lib/ops/status.js';
import { formatStatus } from '../../../lib/ops/status-text.js';
// The program's payloads, as kvc's edge lists them (USB/IP's devices are part of the report).
import { DEVICE_MANAGERS } from '../../../lib/cli/payloads.js';
import { providesFromProbe } from '../../../lib/ops/image-modules.js';
import { loadInstanceSettings } from '../../../lib/config/load.js';
import { toServiceState } from '../../../lib/service/service-state.js';
import { createLogger } from '../../../lib/log/logger.js';

const ROOT = resolve(new URL('../../..', import.meta.url).pathname);
const RUNNING = '6.1.0-56-amd64';
const NEXT = '6.12.117+deb12-amd64';

// The recipe digest kvc records on the images it builds from host/etc/kvc/usbip (as they are now).
let recipe;
// An image as the runtime lists it.
const image = (kver, { version = '1.0.0', buildArgs, id = `sha256:${kver}${version}` } = {}) => ({
  id, names: [`localhost/usbip-${version}:${kver.replace(/[+~]/g, '_')}`], created: '2026-11-24T10:00:00Z', size: 181e6,
  labels: { 'io.kvc.instance': 'usbip', 'io.kvc.kernel': kver, 'io.kvc.version': version, 'io.kvc.recipe': recipe, ...(buildArgs === undefined ? {} : { 'io.kvc.build-args': buildArgs }) },
});

// A runtime that lists `images` and answers each probe from `probes` (by image name).
const fakeRuntime = (images, probes) => ({
  name: 'podman', dryRun: false,
  imagesWithLabel: async (label, value) => images.filter((entry) => entry.labels[label] === value),
  probe: async (name) => probes[name] ?? { exitCode: 1, stdout: '', stderr: "tail: cannot open '/usr/lib/kvc/provides' for reading: No such file or directory" },
});

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// Compares the text with the JSON, field by field; returns the list of disagreements.
function disagreements(json, text) {
  const out = [];
  const lines = text.split('\n');
  const has = (line, fragment, what) => { if (!line.includes(fragment)) out.push(`${what}: "${fragment}" not in "${line}"`); };
  const lacks = (line, fragment, what) => { if (line.includes(fragment)) out.push(`${what}: "${fragment}" in "${line}"`); };
  has(lines[0], `running kernel: ${json.runningKernel}`, 'header');
  has(lines[0], `runtime: ${json.runtime}`, 'header');
  has(lines[0], `config: ${json.configDir}`, 'header');
  if (json.systemd !== null) has(text, `\nsystemd: ${json.systemd}\n`, 'systemd');
  for (const instance of json.instances) {
    const start = lines.indexOf(`${instance.name} (${instance.config})`);
    if (start < 0) { out.push(`instance ${instance.name}: no block`); continue; }
    const end = lines.indexOf('', start);
    const block = lines.slice(start, end < 0 ? undefined : end);
    const joined = block.join('\n');
    if (instance.error !== null) { has(joined, `configuration error: ${instance.error}`, `${instance.name} error`); continue; }
    has(joined, `version: ${instance.softwareVersion}`, `${instance.name} version`);
    if (instance.context !== null) has(joined, `builds from: ${instance.context.source}`, `${instance.name} context`);
    if ((instance.images.length === 0) !== block.includes('  images: none')) out.push(`${instance.name}: "images: none" disagrees with ${instance.images.length} images`);
    for (const kernel of instance.kernels.kernels) {
      const line = block.find((candidate) => new RegExp(`^  kernel ${escape(kernel.kver)}[ :]`).test(candidate));
      const what = `${instance.name} kernel ${kernel.kver}`;
      if (line === undefined) { out.push(`${what}: no line`); continue; }
      const roles = /^ {2}kernel \S+ \(([^)]*)\)/.exec(line)?.[1] ?? '';
      if (kernel.running !== roles.includes('running')) out.push(`${what}: running ${kernel.running}, roles "${roles}"`);
      if (kernel.nextBoot !== roles.includes('next boot')) out.push(`${what}: nextBoot ${kernel.nextBoot}, roles "${roles}"`);
      if ((!kernel.installed && !kernel.running) !== roles.includes('not installed')) out.push(`${what}: installed ${kernel.installed}, roles "${roles}"`);
      const words = { built: '', stale: 'stale, ', building: 'building now', queued: 'queued to build', failed: 'build failed: ', refused: 'refused: ', missing: 'no image', 'to-prune': 'pruned', 'not-kept': 'no image, none is built' };
      if (words[kernel.state] !== '') has(line, words[kernel.state], `${what} state ${kernel.state}`);
      for (const [state, word] of Object.entries(words)) if (state !== kernel.state && word !== '' && !words[kernel.state].includes(word)) lacks(line, word, `${what} state ${kernel.state}`);
      if (kernel.image !== null) {
        has(line, kernel.image.name, `${what} image`);
        has(line, `${(kernel.image.size / 1e6).toFixed(0)} MB`, `${what} size`);
        has(line, `built ${kernel.image.created.slice(0, 16).replace('T', ' ')}`, `${what} created`);
      } else {
        lacks(line, 'localhost/', `${what} has no image`);
      }
      if (kernel.reason !== null) has(line, kernel.reason, `${what} reason`);
      if (kernel.retryAt !== null) has(line, `next try ${kernel.retryAt.slice(0, 19).replace('T', ' ')}`, `${what} retryAt`);
      if (kernel.log !== null && ['failed', 'missing', 'building'].includes(kernel.state)) has(line, `log: ${kernel.log}`, `${what} log`);
      if (kernel.probeError !== undefined) has(line, `provides: unknown, ${kernel.probeError}`, `${what} probeError`);
      else if (kernel.provides?.length > 0) has(line, `provides modules the kernel lacks: ${kernel.provides.join(', ')}`, `${what} provides`);
      else lacks(line, 'provides', `${what} provides nothing`);
    }
    for (const entry of instance.images) {
      const line = block.find((candidate) => candidate.includes(entry.image));
      if (line === undefined) out.push(`${instance.name} image ${entry.image}: not in the text`);
      else has(line, entry.kernel, `${instance.name} image ${entry.image} kernel`);
    }
    for (const warning of instance.kernels.warnings) has(joined, `warning: ${warning}`, `${instance.name} warning`);
    for (const module of instance.modules) has(joined, `${module.name}=${module.state}`, `${instance.name} module ${module.name}`);
    has(joined, `tools container: ${instance.toolsPid === null ? 'not running' : `pid ${instance.toolsPid}`}`, `${instance.name} tools`);
    if (instance.unit) has(joined, `unit: ${instance.unit.unit} ${instance.unit.activeState} (${instance.unit.subState})`, `${instance.name} unit`);
  }
  if (json.problems.length === 0) lacks(text, 'problems', 'no problems');
  else has(text, `\nproblems (${json.problems.length}):\n`, 'problems');
  for (const problem of json.problems) has(text, `\n  ${problem.what}`, 'problem');
  return out;
}

describe('kvc status: text and --json from one report', () => {
  let root;
  let ctx;
  const install = (kver) => {
    mkdirSync(join(root, 'lib/modules', kver), { recursive: true });
    writeFileSync(join(root, 'lib/modules', kver, 'modules.dep'), '');
  };
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'kvc-status-model-'));
    const configDir = join(root, 'etc/kvc');
    cpSync(join(ROOT, 'host/etc/kvc'), configDir, { recursive: true });
    mkdirSync(join(root, 'proc'));
    writeFileSync(join(root, 'proc/modules'), 'usbip_core 40960 0 - Live 0x0000000000000000\n');
    mkdirSync(join(root, 'sys/module/usbip_core'), { recursive: true });
    writeFileSync(join(root, 'sys/module/usbip_core/initstate'), 'live\n');
    writeFileSync(join(root, 'sys/module/usbip_core/refcnt'), '0\n');
    for (const kver of [RUNNING, NEXT, '6.1.0-57-amd64', '6.1.0-58-amd64']) install(kver);
    recipe = (await loadInstanceSettings(configDir, 'usbip', ['usbip'])).context.recipe;
    ctx = {
      configDir, logger: createLogger({ style: 'plain', stream: new PassThrough() }), hostRoot: root, runDir: join(root, 'run'),
      logDir: join(root, 'log'), runningKernel: RUNNING, interactive: false, deviceManagers: DEVICE_MANAGERS,
    };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const units = async (instances) => {
    for (const instance of instances) instance.unit = { unit: `kvc@${instance.name}.service`, activeState: 'active', subState: 'running', unitFileState: 'enabled', loadState: 'loaded', statusText: 'loaded' };
    return null;
  };

  it('agrees field by field on a host with every kind of kernel, image and error', async () => {
    writeFileSync(join(ctx.configDir, 'broken.conf'), 'KMOD_NAMES="a"\nthis line is wrong\n');
    // The service says 6.1.0-58 failed to build, and is retried.
    mkdirSync(join(root, 'run/usbip'), { recursive: true });
    writeFileSync(join(root, 'run/usbip/service.json'), JSON.stringify(toServiceState({
      building: undefined, queued: [], refused: new Map(), nextBoot: NEXT,
      failed: new Map([['6.1.0-58-amd64', { reason: 'building … failed at STEP 3/14: RUN apt-get …', attempt: 2, retryAt: Date.parse('2026-11-24T12:00:00Z') }]]),
      kernels: [{ kver: '6.1.0-58-amd64', action: 'wait', running: false, nextBoot: false, installed: true }],
    }, process.pid, new Date())));
    const images = [
      image(RUNNING),
      image(RUNNING, { version: '0.9.0' }),
      image('6.1.0-57-amd64'),
      // Built with other KVC_BUILD_ARGS, for a kernel not installed here: old kvc said "not built".
      image('6.1.0-50-amd64', { buildArgs: 'USBIP_VHCI_NR_HCS=4' }),
    ];
    ctx.runtime = fakeRuntime(images, {
      [`localhost/usbip-1.0.0:${RUNNING}`]: { exitCode: 0, stdout: '# what this image adds\nusb-common usbcore\n', stderr: '' },
      'localhost/usbip-1.0.0:6.1.0-57-amd64': { exitCode: 127, stdout: '', stderr: 'Error: crun: executable file `tail` not found in $PATH: No such file or directory: OCI runtime attempted to invoke a command that was not found' },
    });
    const report = await gatherStatus(ctx, 5, units);
    const json = JSON.parse(statusJson(report));
    const text = formatStatus(report, DEVICE_MANAGERS);
    expect(disagreements(json, text), text).to.deep.equal([]);

    const usbip = json.instances.find((instance) => instance.name === 'usbip');
    const by = Object.fromEntries(usbip.kernels.kernels.map((kernel) => [kernel.kver, kernel]));
    expect(by[RUNNING]).to.include({ state: 'built' });
    expect(by[RUNNING].provides).to.deep.equal(['usb-common', 'usbcore']);
    expect(by['6.1.0-57-amd64']).to.not.have.property('provides');
    expect(by['6.1.0-57-amd64'].probeError).to.match(/exit 127: .*`tail` not found/);
    expect(by['6.1.0-50-amd64']).to.include({ state: 'stale', installed: false });
    expect(by['6.1.0-50-amd64'].image.name).to.equal('localhost/usbip-1.0.0:6.1.0-50-amd64');
    expect(text).to.match(/kernel 6\.1\.0-50-amd64 \(not installed\): stale, .*not rebuilt: the kernel is not installed here; now localhost\/usbip-1\.0\.0:6\.1\.0-50-amd64/);
    expect(text).to.include(`image localhost/usbip-0.9.0:${RUNNING} (kernel ${RUNNING}, version 0.9.0)`);
    expect(json.problems.map((entry) => [entry.kind, entry.instance, entry.kernel])).to.deep.equal([
      ['config', 'broken', null], ['build', 'usbip', '6.1.0-58-amd64'], ['probe', 'usbip', '6.1.0-57-amd64'],
    ]);
    expect(statusExit(report), 'a configuration problem: 78').to.equal(78);
    rmSync(join(ctx.configDir, 'broken.conf'));
    expect(statusExit(await gatherStatus(ctx, 5, units)), 'a failed build or probe: 70').to.equal(70);
  });

  it('agrees on a quiet host, and exits 0 when it found no error', async () => {
    ctx.runtime = fakeRuntime([image(RUNNING), image(NEXT)], {});
    const report = await gatherStatus(ctx, 3, async () => 'no system bus here');
    const text = formatStatus(report, DEVICE_MANAGERS);
    expect(disagreements(JSON.parse(statusJson(report)), text), text).to.deep.equal([]);
    expect(report.problems).to.deep.equal([]);
    expect(statusExit(report)).to.equal(0);
    expect(text).to.not.match(/error|problem/);
  });

  it('agrees with no images at all and with no instances', async () => {
    ctx.runtime = fakeRuntime([], {});
    const report = await gatherStatus(ctx, 3, async () => null);
    const text = formatStatus(report, DEVICE_MANAGERS);
    expect(disagreements(JSON.parse(statusJson(report)), text), text).to.deep.equal([]);
    expect(text).to.include('  images: none');
    rmSync(join(ctx.configDir, 'usbip.conf'));
    const none = await gatherStatus(ctx, 3, async () => null);
    expect(formatStatus(none)).to.include('no instances configured');
  });

  it('shows one kernel when asked for one', async () => {
    ctx.runtime = fakeRuntime([image(RUNNING), image('6.1.0-57-amd64')], {});
    const report = await gatherStatus(ctx, 3, async () => null, { kernel: '6.1.0-57-amd64' });
    const usbip = report.instances[0];
    expect(usbip.kernels.kernels.map((kernel) => kernel.kver)).to.deep.equal(['6.1.0-57-amd64']);
    expect(usbip.images.map((entry) => entry.kernel)).to.deep.equal(['6.1.0-57-amd64']);
    expect(disagreements(JSON.parse(statusJson(report)), formatStatus(report, DEVICE_MANAGERS))).to.deep.equal([]);
  });

  it('the comparison catches a text that disagrees (it can fail)', async () => {
    ctx.runtime = fakeRuntime([image(RUNNING)], {});
    const report = await gatherStatus(ctx, 3, async () => null);
    const json = JSON.parse(statusJson(report));
    const text = formatStatus(report, DEVICE_MANAGERS);
    expect(disagreements(json, text.replace(`localhost/usbip-1.0.0:${RUNNING}, 181 MB`, 'no image'))).to.not.deep.equal([]);
    expect(disagreements(json, text.replace(`kernel ${RUNNING} (running)`, `kernel ${RUNNING}`))).to.not.deep.equal([]);
    expect(disagreements(json, text.replace('usbip_core=live', 'usbip_core=absent'))).to.not.deep.equal([]);
  });
});

describe('the provides probe: a failure is an error, a missing file is nothing', () => {
  it('reads the list', () => expect(providesFromProbe({ exitCode: 0, stdout: '# c\nusbcore uas\n', stderr: '' })).to.deep.equal({ provides: ['usbcore', 'uas'] }));
  it('an image without the file provides nothing (coreutils and busybox tail)', () => {
    expect(providesFromProbe({ exitCode: 1, stdout: '', stderr: "tail: cannot open '/usr/lib/kvc/provides' for reading: No such file or directory" })).to.deep.equal({ provides: [] });
    expect(providesFromProbe({ exitCode: 1, stdout: '', stderr: "tail: can't open '/usr/lib/kvc/provides': No such file or directory" })).to.deep.equal({ provides: [] });
  });
  it('a container that did not run, or no tail in it, is an error with the reason', () => {
    expect(providesFromProbe({ exitCode: 127, stdout: '', stderr: 'Error: executable file `tail` not found in $PATH: No such file or directory' }))
      .to.deep.equal({ error: 'reading /usr/lib/kvc/provides from the image failed (exit 127: Error: executable file `tail` not found in $PATH: No such file or directory)' });
    expect(providesFromProbe({ exitCode: 125, stdout: '', stderr: 'Error: mounting storage: input/output error' })).to.have.property('error').that.matches(/exit 125: Error: mounting storage/);
  });
  it('the file read by a tail that exits 1 for another reason is an error', () => {
    expect(providesFromProbe({ exitCode: 1, stdout: '', stderr: 'tail: error reading: Input/output error' })).to.have.property('error');
  });
});

describe('kvc status: every kernel state, text against JSON (hand-made report)', () => {
  const img = (kver, version = '1.0.0') => ({ name: `localhost/usbip-${version}:${kver}`, size: 181e6, created: '2026-12-01T10:00:00Z' });
  const kernel = (kver, state, over = {}) => ({ kver, state, running: false, nextBoot: false, installed: true, image: null, reason: null, retryAt: null, log: null, ...over });
  const kernels = [
    kernel('6.12.117+deb12-amd64', 'building', { nextBoot: true, log: '/var/log/kvc/usbip/6.12.log' }),
    kernel('6.1.0-60-amd64', 'queued'),
    kernel('6.1.0-56-amd64', 'built', { running: true, image: img('6.1.0-56-amd64'), provides: ['usbcore'] }),
    kernel('6.1.0-55-amd64', 'missing', { log: '/var/log/kvc/usbip/6.1.0-55.log' }),
    kernel('6.1.0-54-amd64', 'failed', { reason: 'building … failed at STEP 3/14', retryAt: '2026-12-01T12:00:00.000Z', log: '/var/log/kvc/usbip/6.1.0-54.log' }),
    kernel('6.1.0-53-amd64', 'refused', { reason: 'kernel 6.1.0-53-amd64 cannot take usbip\'s modules: CONFIG_USB is not set' }),
    kernel('6.1.0-52-amd64', 'stale', { image: img('6.1.0-52-amd64'), reason: 'it was built with build args "A=1", KVC_BUILD_ARGS now says none' }),
    kernel('6.1.0-51-amd64', 'not-kept'),
    kernel('6.1.0-50-amd64', 'to-prune', { image: img('6.1.0-50-amd64'), installed: false }),
    kernel('6.1.0-49-amd64', 'to-prune', { installed: false }),
    kernel('6.1.0-48-amd64', 'built', { image: img('6.1.0-48-amd64'), probeError: 'reading /usr/lib/kvc/provides from the image failed (exit 125: Error: OCI runtime error)' }),
  ];
  const images = [
    ...kernels.filter((k) => k.image !== null).map((k) => ({ kernel: k.kver, version: '1.0.0', image: k.image.name, id: 'abc', size: 181e6, created: k.image.created, running: k.running })),
    { kernel: '6.1.0-49-amd64', version: '0.9.0', image: 'localhost/usbip-0.9.0:6.1.0-49-amd64', id: 'def', size: 1e6, created: '2026-11-01T10:00:00Z', running: false },
  ];
  const instance = {
    name: 'usbip', config: '/etc/kvc/usbip.conf', error: null, softwareVersion: '1.0.0', context: { remote: false, source: '/etc/kvc/usbip', pinned: 'local' },
    images, modules: [{ name: 'usbip_core', state: 'live', refcnt: 1, holders: [] }], toolsPid: 42,
    kernels: { nextBoot: '6.12.117+deb12-amd64', fromService: true, kernels, warnings: ['the kernel that boots next, 6.12.117+deb12-amd64, has no usbip image (building)'] },
  };
  const report = { runningKernel: '6.1.0-56-amd64', runtime: 'podman', configDir: '/etc/kvc', systemd: null, instances: [instance], problems: [{ kind: 'probe', instance: 'usbip', kernel: '6.1.0-48-amd64', what: 'usbip, kernel 6.1.0-48-amd64: reading … failed' }] };

  it('agrees field by field', () => {
    const text = formatStatus(report, DEVICE_MANAGERS);
    expect(disagreements(JSON.parse(statusJson(report)), text), text).to.deep.equal([]);
  });
  it('names an image of another version, and a pruned kernel\'s image', () => {
    const text = formatStatus(report, DEVICE_MANAGERS);
    expect(text).to.include('image localhost/usbip-0.9.0:6.1.0-49-amd64 (kernel 6.1.0-49-amd64, version 0.9.0)');
    expect(text).to.include('kernel 6.1.0-50-amd64 (not installed): older than the kernels kept (KVC_KEEP_KERNELS); its images are pruned: localhost/usbip-1.0.0:6.1.0-50-amd64');
    expect(statusExit(report)).to.equal(70);
  });
});
