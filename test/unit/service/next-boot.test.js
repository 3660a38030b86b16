// Unit tests: the next boot's kernel as the boot files name it (pure, on data), the watcher of
// those files (real files in a temp folder, real inotify), and the service's watchers (chokidar
// on the module trees, inotify on the boot files) feeding the reconciler while a kernel package
// is installed as dpkg does it: modules first, the vmlinuz link moved and the boot loader updated
// later by its postinst (real folders, lock and timers; the image list is a fake).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, renameSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { bootDefaultKernel, grubenvValue, kernelOfGrubEntry, kernelOfImage, readBootFiles } from '../../../lib/kernel/boot-default.js';
import { BootWatcher, bootRelevant } from '../../../lib/service/boot-watcher.js';
import { plan } from '../../../lib/images/plan.js';
import { Reconciler } from '../../../lib/service/reconciler.js';
import { watchBootFacts } from '../../../lib/service/boot-facts.js';
import { createLogger } from '../../../lib/log/logger.js';
import { imageTagFor } from '../../../lib/images/names.js';

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
      // Reported once settled (on a loaded machine the events may be read late), and only once.
      for (const start = Date.now(); seen.length === 0 && Date.now() - start < 10_000;) await sleep(20);
      await sleep(600);
      expect(seen).to.have.length(1);
      expect(seen[0]).to.include('/vmlinuz').and.include('/boot/grub/grubenv');
      expect(bootDefaultKernel(readBootFiles(root))).to.equal('6.12.117+deb12-amd64');
    } finally {
      watcher.close();
    }
  });

  // The service's own wiring (boot-facts.ts: chokidar on the module trees, inotify on the boot
  // files) feeding a real reconciler; only the image list is a fake, as in reconciler.test.js.
  const image = (kver) => ({ id: `id-${kver}`, names: [`localhost/usbip-1.0.0:${imageTagFor(kver)}`], labels: { 'io.kvc.instance': 'usbip', 'io.kvc.kernel': kver, 'io.kvc.version': '1.0.0' }, created: '', size: 1 });
  const install = (kver, old) => {
    const dir = join(root, 'lib/modules', kver);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'modules.dep'), '');
    if (old) utimesSync(dir, new Date(Date.now() - 60000), new Date(Date.now() - 60000));
  };
  // watch: false leaves the watchers out (only the reconciler's own timer, every intervalMs).
  async function service(kvers, { watch = true, intervalMs = 60000 } = {}) {
    const lines = [];
    const stream = new PassThrough();
    stream.on('data', (chunk) => lines.push(String(chunk)));
    const runtime = { images: kvers.map(image), async imagesWithLabel() { return this.images; }, async removeImage() {} };
    const lifetime = new AbortController();
    const ctx = { configDir: '/x', runtime, logger: createLogger({ style: 'plain', stream }), hostRoot: root, runDir: join(root, 'run'), keys: { keyDir: join(root, 'keys'), dkmsDir: join(root, 'dkms') }, runningKernel: '6.1.0-56-amd64', interactive: false };
    const built = [];
    const requests = [];
    const reconciler = new Reconciler({ ctx, settings: { name: 'usbip', softwareVersion: '1.0.0', modules: ['usbip-core'], buildArgs: {} }, keep: 3, build: async (kver) => { built.push(kver); }, retryBaseMs: 200, retryMaxMs: 1000, intervalMs, settleMs: 300, signal: lifetime.signal, staged: () => undefined });
    const listener = { request: (why, kver) => { requests.push(why); reconciler.request(why, kver); }, removed: (kver) => reconciler.removed(kver) };
    const facts = watch ? await watchBootFacts({ hostRoot: root, runningKernel: ctx.runningKernel, settleMs: 300, logger: ctx.logger }, listener) : { close: async () => {} };
    reconciler.request('service started');
    await reconciler.idle();
    // Waits (deadline 10 s) for a journal line, or for a request whose reason matches, then for the pass.
    const until = async (what, seen) => {
      const deadline = Date.now() + 10000;
      while (!seen() && Date.now() < deadline) await sleep(25);
      await reconciler.idle();
      expect(seen(), `${what}; the journal:\n${lines.join('')}\nrequests: ${requests.join(' | ')}`).to.equal(true);
    };
    return {
      reconciler, built, journal: () => lines.join(''),
      line: (text) => until(`no line "${text}"`, () => lines.join('').includes(text)),
      request: (pattern) => until(`no request matching ${pattern}`, () => requests.some((why) => pattern.test(why))),
      close: async () => { await facts.close(); lifetime.abort(new Error('test over')); await reconciler.close(); },
    };
  }

  it('a kernel package installed as dpkg does it (modules, then the link) ends with the journal and state naming it as next boot with its image ready', async () => {
    install('6.1.0-56-amd64', true);
    // A newer kernel is installed and is what a plain "newest" rule would pick; the links say 6.1.0-56.
    install('6.12.117+deb12-amd64', true);
    const kvc = await service(['6.1.0-56-amd64', '6.1.0-58-amd64', '6.12.117+deb12-amd64']);
    try {
      expect(kvc.reconciler.state().nextBoot).to.equal('6.1.0-56-amd64');
      // dpkg unpacks the modules: the service sees the kernel, not yet as the next boot.
      install('6.1.0-58-amd64', false);
      await kvc.line('kernel 6.1.0-58-amd64: its image localhost/usbip-1.0.0:6.1.0-58-amd64 is up to date; nothing to build');
      expect(kvc.reconciler.state().nextBoot).to.equal('6.1.0-56-amd64');
      // Its postinst, later: the initrd, then linux-update-symlinks moves /vmlinuz.
      await sleep(400);
      writeFileSync(join(root, 'boot/initrd.img-6.1.0-58-amd64'), '');
      moveLink('6.1.0-58-amd64');
      await kvc.line('kernel 6.1.0-58-amd64 (next boot): its image localhost/usbip-1.0.0:6.1.0-58-amd64 is up to date; nothing to build');
      expect(kvc.journal()).to.include('the next boot\'s kernel is now 6.1.0-58-amd64 (was 6.1.0-56-amd64)');
      expect(kvc.reconciler.state().nextBoot).to.equal('6.1.0-58-amd64');
      expect(kvc.reconciler.state().kernels.find((kernel) => kernel.kver === '6.1.0-58-amd64')).to.deep.include({ nextBoot: true, action: 'ready' });
      expect(kvc.built).to.deep.equal([]);
    } finally {
      await kvc.close();
    }
  });

  it('on a GRUB host the next boot follows grub.cfg: the link moved alone changes nothing, update-grub does', async () => {
    install('6.1.0-56-amd64', true);
    const menu = (kver) => `set default="0"\nmenuentry 'Debian GNU/Linux' $menuentry_id_option 'gnulinux-simple-x' {\n\tlinux\t/boot/vmlinuz-${kver} root=/dev/vda ro\n}\n`;
    writeFileSync(join(root, 'boot/grub/grub.cfg'), menu('6.1.0-56-amd64'));
    const kvc = await service(['6.1.0-56-amd64', '6.1.0-58-amd64']);
    try {
      install('6.1.0-58-amd64', false);
      await kvc.line('kernel 6.1.0-58-amd64: its image');
      await sleep(400);
      moveLink('6.1.0-58-amd64');
      await kvc.request(/^boot files changed: .*\/vmlinuz$/);
      expect(kvc.reconciler.state().nextBoot).to.equal('6.1.0-56-amd64');
      // update-grub writes grub.cfg.new and renames it over grub.cfg.
      writeFileSync(join(root, 'boot/grub/grub.cfg.new'), menu('6.1.0-58-amd64'));
      renameSync(join(root, 'boot/grub/grub.cfg.new'), join(root, 'boot/grub/grub.cfg'));
      await kvc.line('kernel 6.1.0-58-amd64 (next boot): its image');
      expect(kvc.reconciler.state().nextBoot).to.equal('6.1.0-58-amd64');
    } finally {
      await kvc.close();
    }
  });

  it('the safety net: with no event at all, a pass of the slow timer finds the next boot changed', async () => {
    install('6.1.0-56-amd64', true);
    install('6.1.0-58-amd64', true);
    const kvc = await service(['6.1.0-56-amd64', '6.1.0-58-amd64'], { watch: false, intervalMs: 500 });
    try {
      expect(kvc.reconciler.state().nextBoot).to.equal('6.1.0-56-amd64');
      moveLink('6.1.0-58-amd64');
      await kvc.line('kernel 6.1.0-58-amd64 (next boot): its image localhost/usbip-1.0.0:6.1.0-58-amd64 is up to date; nothing to build');
      expect(kvc.reconciler.state().nextBoot).to.equal('6.1.0-58-amd64');
    } finally {
      await kvc.close();
    }
  });

  it('a boot loader folder made after the service started is watched: systemd-boot\'s first BLS entries count', async () => {
    install('6.1.0-56-amd64', true);
    install('6.1.0-58-amd64', true);
    const kvc = await service(['6.1.0-56-amd64', '6.1.0-58-amd64']);
    try {
      expect(kvc.reconciler.state().nextBoot).to.equal('6.1.0-56-amd64');
      // bootctl install: /boot/loader, its loader.conf, then kernel-install's entries.
      mkdirSync(join(root, 'boot/loader/entries'), { recursive: true });
      await sleep(100);
      writeFileSync(join(root, 'boot/loader/loader.conf'), 'default abc-6.1.0-58*\n');
      for (const kver of ['6.1.0-56-amd64', '6.1.0-58-amd64']) writeFileSync(join(root, `boot/loader/entries/abc-${kver}.conf`), `title Debian\nversion ${kver}\nlinux /abc/${kver}/linux\n`);
      await kvc.line('the next boot\'s kernel is now 6.1.0-58-amd64 (was 6.1.0-56-amd64)');
    } finally {
      await kvc.close();
    }
  });
});
