// Unit tests: the next boot's kernel as the boot files name it (pure, on data), the watcher of
// those files (real files in a temp folder, real inotify), and the reconciler seeing a kernel
// package installed as dpkg does it: modules first, the vmlinuz link moved later by its postinst
// (real folders, lock and timers; the image list is a fake, as in reconciler.test.js).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { bootDefaultKernel, grubenvValue, kernelOfGrubEntry, kernelOfImage, readBootFiles } from '../../lib/kernel/boot-default.js';
import { BootWatcher, bootRelevant } from '../../lib/service/boot-watcher.js';
import { plan } from '../../lib/service/reconcile-plan.js';
import { Reconciler } from '../../lib/service/reconciler.js';
import { createLogger } from '../../lib/log/logger.js';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const quiet = () => createLogger({ style: 'plain', stream: new PassThrough() });
// A grubenv as grub-editenv writes it: 1024 bytes padded with '#'.
const grubenv = (vars) => {
  const text = `# GRUB Environment Block\n${Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join('')}`;
  return text + '#'.repeat(1024 - text.length);
};

describe('next boot: the boot files (pure, on data)', () => {
  it('reads the kernel from an image path, a GRUB entry title and grubenv', () => {
    expect(kernelOfImage('boot/vmlinuz-6.12.117+deb12-amd64')).to.equal('6.12.117+deb12-amd64');
    expect(kernelOfImage('/boot/vmlinuz-6.1.0-56-amd64')).to.equal('6.1.0-56-amd64');
    expect(kernelOfImage('/boot/vmlinuz')).to.equal(undefined);
    expect(kernelOfImage('/boot/vmlinuz-../../etc')).to.equal(undefined);
    expect(kernelOfGrubEntry('Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux 6.1.0-56-amd64')).to.equal('6.1.0-56-amd64');
    expect(kernelOfGrubEntry('Debian GNU/Linux, with Linux 6.12.117+deb12-amd64 (recovery mode)')).to.equal('6.12.117+deb12-amd64');
    expect(kernelOfGrubEntry('0')).to.equal(undefined);
    expect(grubenvValue(grubenv({ saved_entry: 'x' }), 'saved_entry')).to.equal('x');
  });

  it('GRUB\'s one-shot entry wins over its saved entry, which wins over the links; the /boot link over /vmlinuz', () => {
    const links = ['vmlinuz-6.1.0-58-amd64', 'boot/vmlinuz-6.1.0-57-amd64'];
    const entry = (kver) => `Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux ${kver}`;
    expect(bootDefaultKernel({ links })).to.equal('6.1.0-58-amd64');
    expect(bootDefaultKernel({ links: [undefined, links[1]] })).to.equal('6.1.0-57-amd64');
    expect(bootDefaultKernel({ links, grubenv: grubenv({ saved_entry: entry('6.1.0-50-amd64') }) })).to.equal('6.1.0-50-amd64');
    expect(bootDefaultKernel({ links, grubenv: grubenv({ saved_entry: entry('6.1.0-50-amd64'), next_entry: entry('6.1.0-49-amd64') }) })).to.equal('6.1.0-49-amd64');
    // A saved entry by number names no kernel: the links decide.
    expect(bootDefaultKernel({ links, grubenv: grubenv({ saved_entry: '0' }) })).to.equal('6.1.0-58-amd64');
    expect(bootDefaultKernel({ links: [] })).to.equal(undefined);
  });

  it('the plan takes the kernel the boot files name when it is installed, else the newest installed', () => {
    const base = { running: '6.1.0-56-amd64', installed: ['6.1.0-56-amd64', '6.12.117+deb12-amd64', '6.1.0-58-amd64'], version: '1.0.0', keep: 3 };
    const none = { refused: new Map(), retryAt: new Map() };
    expect(plan(base, [], none, 0).nextBoot).to.equal('6.12.117+deb12-amd64');
    expect(plan({ ...base, bootDefault: '6.1.0-58-amd64' }, [], none, 0).nextBoot).to.equal('6.1.0-58-amd64');
    expect(plan({ ...base, bootDefault: '6.1.0-99-amd64' }, [], none, 0).nextBoot).to.equal('6.12.117+deb12-amd64');
    expect(plan({ ...base, bootDefault: '6.1.0-58-amd64', staged: '6.1.0-56-amd64' }, [], none, 0).nextBoot).to.equal('6.1.0-56-amd64');
  });

  it('only the boot files count as changes', () => {
    expect(bootRelevant('', 'vmlinuz')).to.equal(true);
    expect(bootRelevant('', 'initrd.img.old')).to.equal(true);
    expect(bootRelevant('', 'etc')).to.equal(false);
    expect(bootRelevant('boot', 'vmlinuz-6.12.117+deb12-amd64')).to.equal(true);
    expect(bootRelevant('boot', 'System.map-6.1.0-56-amd64')).to.equal(false);
    expect(bootRelevant('boot/grub', 'grubenv')).to.equal(true);
    expect(bootRelevant('boot/loader/entries', 'abc-6.1.conf')).to.equal(true);
    expect(bootRelevant('boot/loader/entries', null)).to.equal(true);
  });
});

describe('next boot: the watcher and the reconciler (real files and timers)', function () {
  this.timeout(20000);
  let root;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'kvc-boot-'));
    mkdirSync(join(root, 'boot/grub'), { recursive: true });
    writeFileSync(join(root, 'boot/vmlinuz-6.1.0-56-amd64'), '');
    symlinkSync('boot/vmlinuz-6.1.0-56-amd64', join(root, 'vmlinuz'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  // The link moved as linux-update-symlinks does it: a new link renamed over the old one.
  const moveLink = (kver) => {
    writeFileSync(join(root, `boot/vmlinuz-${kver}`), '');
    symlinkSync(`boot/vmlinuz-${kver}`, join(root, 'vmlinuz.new'));
    renameSync(join(root, 'vmlinuz.new'), join(root, 'vmlinuz'));
  };

  it('a burst of boot file changes is reported once, after it settles; other files are not', async () => {
    const seen = [];
    const watcher = new BootWatcher({ hostRoot: root, settleMs: 300, logger: quiet(), onChange: (what) => seen.push(what) });
    expect(watcher.start()).to.include(join(root, 'boot/grub'));
    try {
      writeFileSync(join(root, 'unrelated'), '');
      await sleep(600);
      expect(seen).to.deep.equal([]);
      moveLink('6.12.117+deb12-amd64');
      writeFileSync(join(root, 'boot/grub/grubenv'), grubenv({}));
      await sleep(100);
      expect(seen).to.deep.equal([]);
      await sleep(600);
      expect(seen).to.have.length(1);
      expect(seen[0]).to.include('/vmlinuz').and.include('/boot/grub/grubenv');
      expect(bootDefaultKernel(readBootFiles(root))).to.equal('6.12.117+deb12-amd64');
    } finally {
      watcher.close();
    }
  });

  it('a kernel package installed as dpkg does it (modules, then the link) ends with the journal naming it as next boot with its image ready', async () => {
    const lines = [];
    const stream = new PassThrough();
    stream.on('data', (chunk) => lines.push(String(chunk)));
    const image = (kver) => ({ id: `id-${kver}`, names: [`localhost/usbip-1.0.0:${kver}`], labels: { 'io.kvc.instance': 'usbip', 'io.kvc.kernel': kver, 'io.kvc.version': '1.0.0' }, created: '', size: 1 });
    const runtime = { images: [image('6.1.0-56-amd64'), image('6.1.0-58-amd64')], async imagesWithLabel() { return this.images; }, async removeImage() {} };
    const install = (kver, old) => {
      const dir = join(root, 'lib/modules', kver);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'modules.dep'), '');
      if (old) utimesSync(dir, new Date(Date.now() - 60000), new Date(Date.now() - 60000));
    };
    install('6.1.0-56-amd64', true);
    // A newer kernel is installed and is what a plain "newest" rule would pick; the links say 6.1.0-56.
    install('6.12.117+deb12-amd64', true);
    runtime.images.push(image('6.12.117+deb12-amd64'));
    const lifetime = new AbortController();
    const ctx = { configDir: '/x', runtime, logger: createLogger({ style: 'plain', stream }), hostRoot: root, runDir: join(root, 'run'), runningKernel: '6.1.0-56-amd64', interactive: false };
    const built = [];
    const reconciler = new Reconciler({ ctx, settings: { name: 'usbip', softwareVersion: '1.0.0', modules: ['usbip-core'], buildArgs: {} }, keep: 3, build: async (kver) => { built.push(kver); }, retryBaseMs: 200, retryMaxMs: 1000, intervalMs: 60000, settleMs: 500, signal: lifetime.signal, staged: () => undefined });
    const watcher = new BootWatcher({ hostRoot: root, settleMs: 300, logger: ctx.logger, onChange: (what) => reconciler.request(`boot files changed: ${what}`) });
    watcher.start();
    try {
      reconciler.request('service started');
      await reconciler.idle();
      expect(reconciler.state().nextBoot).to.equal('6.1.0-56-amd64');
      // dpkg: the modules (the watcher reports them while the folder is still fresh), then the link.
      install('6.1.0-58-amd64', false);
      reconciler.request('kernel 6.1.0-58-amd64 installed', '6.1.0-58-amd64');
      await reconciler.idle();
      expect(lines.join('')).to.not.include('kernel 6.1.0-58-amd64 (next boot)');
      await sleep(600);
      moveLink('6.1.0-58-amd64');
      const deadline = Date.now() + 10000;
      while (!lines.join('').includes('kernel 6.1.0-58-amd64 (next boot): its image') && Date.now() < deadline) await sleep(50);
      await reconciler.idle();
      const journal = lines.join('');
      expect(journal).to.include('the next boot\'s kernel is now 6.1.0-58-amd64 (was 6.1.0-56-amd64)');
      expect(journal).to.include('kernel 6.1.0-58-amd64 (next boot): its image localhost/usbip-1.0.0:6.1.0-58-amd64 is up to date; nothing to build');
      expect(reconciler.state().nextBoot).to.equal('6.1.0-58-amd64');
      expect(built).to.deep.equal([]);
    } finally {
      watcher.close();
      lifetime.abort(new Error('test over'));
      await reconciler.close();
    }
  });
});
