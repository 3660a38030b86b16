// Unit tests: the service's background parts. The watcher runs on real directories with real
// chokidar; the build queue gets a build function that records calls (no podman: that is what
// the integration test covers); rpm-ostree's Deployments is given in the shape its D-Bus
// property has (rpm-ostree is out of reach on this machine).
import { expect } from 'chai';
import { chmodSync, mkdtempSync, mkdirSync, writeFileSync, rmSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KernelWatcher, distinctRoots, kernelDirComplete } from '../../../lib/service/kernel-watcher.js';
import { ostreeBooted, stagedKernel } from '../../../lib/bus/rpm-ostree.js';
import { statusLine } from '../../../lib/service/runner.js';
import { createLogger } from '../../../lib/log/logger.js';
import { PassThrough } from 'node:stream';

const quietLogger = () => createLogger({ style: 'plain', stream: new PassThrough() });
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('service: kernel watcher (real directories, real chokidar)', function () {
  this.timeout(20000);
  let root;
  let watcher;
  let ready;
  let removed;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'kvc-watch-'));
    mkdirSync(join(root, 'usr/lib/modules'), { recursive: true });
    mkdirSync(join(root, 'usr/lib/modules/6.1.0-1-amd64'));
    writeFileSync(join(root, 'usr/lib/modules/6.1.0-1-amd64/modules.dep'), '');
    symlinkSync('usr/lib', join(root, 'lib'));
    ready = [];
    removed = [];
    watcher = new KernelWatcher({
      roots: [join(root, 'usr/lib/modules'), join(root, 'lib/modules')], settleMs: 300, logger: quietLogger(),
      onReady: (kver) => ready.push({ kver, at: Date.now() }), onRemoved: (kver) => removed.push(kver),
    });
    await watcher.start();
  });
  afterEach(async () => {
    await watcher.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('watches /lib/modules once when /lib links to /usr/lib', () => {
    expect(distinctRoots([join(root, 'usr/lib/modules'), join(root, 'lib/modules'), join(root, 'nope')])).to.have.length(1);
  });

  it('does not report kernels that were there at start', async () => {
    await sleep(600);
    expect(ready).to.deep.equal([]);
  });

  it('reports a kernel installed in steps once, after its files are complete and settled', async () => {
    const dir = join(root, 'usr/lib/modules/6.1.0-2-amd64');
    mkdirSync(dir);
    mkdirSync(join(dir, 'kernel'));
    await sleep(500);
    expect(ready, 'incomplete: no modules.dep, build or vmlinuz yet').to.deep.equal([]);
    for (let i = 0; i < 5; i += 1) {
      writeFileSync(join(dir, `modules.order.${i}`), 'x');
      await sleep(100);
    }
    const completed = Date.now();
    writeFileSync(join(dir, 'modules.dep'), '');
    for (const start = Date.now(); ready.length === 0 && Date.now() - start < 10_000;) await sleep(20);
    expect(ready.map((r) => r.kver)).to.deep.equal(['6.1.0-2-amd64']);
    expect(ready[0].at - completed, 'reported only after the settle time').to.be.within(250, 5000);
    writeFileSync(join(dir, 'modules.alias'), '');
    await sleep(600);
    expect(ready, 'a later write does not report it again').to.have.length(1);
  });

  it('a burst of installs gives one report per kernel', async () => {
    for (const kver of ['6.1.0-3-amd64', '6.1.0-4-amd64']) {
      mkdirSync(join(root, 'usr/lib/modules', kver));
      writeFileSync(join(root, 'usr/lib/modules', kver, 'modules.dep'), '');
    }
    for (let i = 0; i < 10; i += 1) writeFileSync(join(root, 'usr/lib/modules/6.1.0-3-amd64', `f${i}`), 'x');
    for (const start = Date.now(); ready.length < 2 && Date.now() - start < 10_000;) await sleep(20);
    await sleep(600);
    expect(ready.map((r) => r.kver).sort()).to.deep.equal(['6.1.0-3-amd64', '6.1.0-4-amd64']);
  });

  it('reports a removed kernel, and one installed and removed before it settled is never reported ready', async () => {
    // A watcher of its own with a settle time of 3 s: the short-lived kernel is removed once the
    // watcher has seen it come (its settle timer is set), well before that timer could run out.
    await watcher.close();
    watcher = new KernelWatcher({
      roots: [join(root, 'usr/lib/modules'), join(root, 'lib/modules')], settleMs: 3000, logger: quietLogger(),
      onReady: (kver) => ready.push({ kver, at: Date.now() }), onRemoved: (kver) => removed.push(kver),
    });
    await watcher.start();
    const until = async (condition, what) => {
      for (const start = Date.now(); !condition();) {
        if (Date.now() - start > 10_000) throw new Error(`${what}: not so after 10 s`);
        await sleep(20);
      }
    };
    rmSync(join(root, 'usr/lib/modules/6.1.0-1-amd64'), { recursive: true });
    const dir = join(root, 'usr/lib/modules/6.1.0-9-amd64');
    mkdirSync(dir);
    writeFileSync(join(dir, 'modules.dep'), '');
    await until(() => watcher.timers.has('6.1.0-9-amd64'), 'the watcher sees 6.1.0-9-amd64 come');
    rmSync(dir, { recursive: true });
    await until(() => removed.includes('6.1.0-9-amd64') && removed.includes('6.1.0-1-amd64'), 'both removals reported');
    // Past the settle time: never reported ready, each removal reported once.
    await sleep(3500);
    expect(removed.sort()).to.deep.equal(['6.1.0-1-amd64', '6.1.0-9-amd64']);
    expect(ready).to.deep.equal([]);
  });

  it('an unreadable root is left out with a warning that names it; kernels in the other root are still reported', () => {
    // Root reads every directory, so the child runs as root without CAP_DAC_OVERRIDE and
    // CAP_DAC_READ_SEARCH (setpriv), as a root process confined by an LSM would be.
    const locked = join(root, 'locked/modules');
    mkdirSync(locked, { recursive: true });
    chmodSync(locked, 0o000);
    const other = join(root, 'usr/lib/modules');
    const child = `
      import { KernelWatcher } from ${JSON.stringify(new URL('../../../lib/service/kernel-watcher.js', import.meta.url).href)};
      import { createLogger } from ${JSON.stringify(new URL('../../../lib/log/logger.js', import.meta.url).href)};
      import { mkdirSync, writeFileSync } from 'node:fs';
      const logger = createLogger({ style: 'plain', stream: process.stdout });
      const watcher = new KernelWatcher({ roots: ${JSON.stringify([locked, other])}, settleMs: 200, logger,
        onReady: (kver) => { console.log('ready ' + kver); watcher.close().then(() => process.exit(0)); }, onRemoved: () => {} });
      const roots = await watcher.start();
      console.log('roots ' + roots.join(' '));
      mkdirSync(${JSON.stringify(join(other, '6.1.0-7-amd64'))});
      writeFileSync(${JSON.stringify(join(other, '6.1.0-7-amd64/modules.dep'))}, '');
      setTimeout(() => { console.log('no report'); process.exit(1); }, 5000);`;
    const drop = '-dac_override,-dac_read_search';
    const out = execFileSync('setpriv', [`--inh-caps=${drop}`, `--bounding-set=${drop}`, process.execPath, '--input-type=module', '-e', child], { encoding: 'utf8' });
    chmodSync(locked, 0o755);
    expect(out.trimEnd().split('\n')).to.deep.equal([
      `kvc: warning: cannot read ${locked} (EACCES): kernels installed there will not be noticed; make it readable by root and restart the service`,
      `kvc: watching ${other} for new kernels`,
      `roots ${other}`,
      'ready 6.1.0-7-amd64',
    ]);
  });

  it('kernelDirComplete looks for depmod output, the build link or vmlinuz', () => {
    expect(kernelDirComplete(join(root, 'usr/lib/modules/6.1.0-1-amd64'))).to.equal(true);
    mkdirSync(join(root, 'x'));
    expect(kernelDirComplete(join(root, 'x'))).to.equal(false);
  });
});

describe('service: rpm-ostree, status line', () => {
  it('asks rpm-ostree only on a host ostree booted (/run/ostree-booted under the host root)', () => {
    const host = mkdtempSync(join(tmpdir(), 'kvc-ostree-'));
    try {
      expect(ostreeBooted(host)).to.equal(false);
      mkdirSync(join(host, 'run'));
      writeFileSync(join(host, 'run/ostree-booted'), '');
      expect(ostreeBooted(host)).to.equal(true);
    } finally {
      rmSync(host, { recursive: true, force: true });
    }
  });
  it('reads the staged deployment\'s kernel from rpm-ostree\'s Deployments', () => {
    const v = (signature, value) => ({ signature, value });
    const deployments = [
      { booted: v('b', true), staged: v('b', false), 'base-commit-meta': v('a{sv}', { 'ostree.linux': v('s', '6.5.5-200.fc38.x86_64') }) },
      { booted: v('b', false), staged: v('b', true), 'base-commit-meta': v('a{sv}', { 'ostree.linux': v('s', '6.5.6-300.fc39.x86_64') }) },
    ];
    expect(stagedKernel(deployments)).to.equal('6.5.6-300.fc39.x86_64');
    expect(stagedKernel([deployments[0]])).to.equal(undefined);
    expect(stagedKernel('nonsense')).to.equal(undefined);
  });

  it('writes a STATUS line a person can read, warning when the next boot\'s kernel has no image', () => {
    const settings = { modules: ['usbip-core', 'vhci-hcd'] };
    const state = (nextBootAction) => ({
      building: { kver: '6.2', since: 0 }, queued: ['6.3'], failed: new Map([['6.4', { reason: 'x', attempt: 1, retryAt: 0 }]]), refused: new Map(),
      nextBoot: '6.3', kernels: [{ kver: '6.3', action: nextBootAction }],
    });
    expect(statusLine(settings, '6.1', state('build')))
      .to.equal('usbip-core, vhci-hcd loaded into 6.1; building the image for 6.2; queued: 6.3; failed, retrying: 6.4; next boot\'s kernel 6.3 has no image yet');
    expect(statusLine(settings, '6.1', state('ready'))).to.not.include('next boot');
  });
});
