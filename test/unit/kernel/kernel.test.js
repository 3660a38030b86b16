// Unit tests: kernel releases, kernel config discovery and refusal, /sys/module reading.
import { expect } from 'chai';
import fc from 'fast-check';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkKernelRelease } from '../../../lib/kernel/release.js';
import { parseKernelConfig, findKernelConfig, refusalReason } from '../../../lib/kernel/kernel-config.js';
import { readModuleStatus, kernelHasModuleSupport } from '../../../lib/kernel/module-state.js';
import { UsageError } from '../../../lib/errors.js';
import { imageTagFor, kernelReleaseOfTag } from '../../../lib/images/names.js';

describe('kernel release', () => {
  for (const good of ['6.1.0-56-amd64', '6.5.6-300.fc39.x86_64', '5.15.153.1-microsoft-standard-WSL2', '6.1.0+', '4.18.0-513.el8_9.x86_64']) {
    it(`accepts ${good}`, () => expect(checkKernelRelease(good)).to.equal(good));
  }
  for (const bad of ['', '../x', '..', 'a/b', '6.1 0', '6.1\n0', '-rf', '.hidden', 'x'.repeat(200), '6.1..0']) {
    it(`refuses ${JSON.stringify(bad)}`, () => expect(() => checkKernelRelease(bad)).to.throw(UsageError, /is not a kernel release/));
  }
});

describe('image tags of kernel releases', () => {
  // A tag as the registries' reference grammar allows it (distribution/reference: [\w][\w.-]{0,127}).
  const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
  // Releases as checkKernelRelease takes them, weighted towards the characters that need care.
  const release = fc.array(fc.constantFrom(...'09aZ._-+~+~_'), { minLength: 0, maxLength: 40 })
    .map((chars) => `6${chars.join('')}`)
    .filter((kver) => !kver.includes('..'));

  it('keeps the tag of a release with neither + nor ~ (images built before stay found)', () => {
    for (const kver of ['6.1.0-56-amd64', '4.18.0-513.el8_9.x86_64', '6.5.6-300.fc39.x86_64']) expect(imageTagFor(kver)).to.equal(kver);
  });
  it('gives two kernels that differ only in + and ~ two tags (both were 6.1.0_rc1)', () => {
    expect(imageTagFor('6.1.0+rc1')).to.not.equal(imageTagFor('6.1.0~rc1'));
    expect(imageTagFor('6.1.0+rc1')).to.not.equal(imageTagFor('6.1.0_rc1'));
  });
  it('tags 6.12.117+deb12-amd64 readably', () => expect(imageTagFor('6.12.117+deb12-amd64')).to.equal('_6.12.117_pdeb12-amd64'));
  it('is a valid tag, one to one and reversible for every release', () => {
    fc.assert(fc.property(release, release, (a, b) => {
      expect(checkKernelRelease(a)).to.equal(a);
      expect(imageTagFor(a)).to.match(TAG);
      expect(kernelReleaseOfTag(imageTagFor(a))).to.equal(a);
      if (a !== b) expect(imageTagFor(a)).to.not.equal(imageTagFor(b));
    }), { numRuns: 2000 });
  });
  it('refuses a release whose tag would pass 128 characters', () => {
    expect(() => imageTagFor(`6.${'+'.repeat(100)}`)).to.throw(UsageError, /image tag/);
  });
});

describe('kernel config', () => {
  let root;
  beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'kvc-kconf-')); });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('parses set, module and unset options', () => {
    const options = parseKernelConfig('CONFIG_MODULES=y\nCONFIG_USB=m\n# CONFIG_USBIP_CORE is not set\nCONFIG_X="s"\n');
    expect([...options]).to.deep.equal([['CONFIG_MODULES', 'y'], ['CONFIG_USB', 'm'], ['CONFIG_USBIP_CORE', 'n'], ['CONFIG_X', '"s"']]);
  });

  it('finds /boot/config-<kver> and refuses a kernel without CONFIG_USB, naming the file', async () => {
    mkdirSync(join(root, 'boot'));
    writeFileSync(join(root, 'boot', 'config-6.1.0-1-amd64'), 'CONFIG_MODULES=y\n# CONFIG_USB is not set\n');
    const config = await findKernelConfig('6.1.0-1-amd64', false, root);
    expect(config.source).to.equal(join(root, 'boot', 'config-6.1.0-1-amd64'));
    expect(refusalReason(config, ['CONFIG_USB'])).to.equal(`CONFIG_USB is not set in ${config.source}`);
  });

  it('refuses a kernel without module support', async () => {
    mkdirSync(join(root, 'lib/modules/6.9/build'), { recursive: true });
    writeFileSync(join(root, 'lib/modules/6.9/build/.config'), '# CONFIG_MODULES is not set\nCONFIG_USB=y\n');
    const config = await findKernelConfig('6.9', false, root);
    expect(refusalReason(config, ['CONFIG_USB'])).to.match(/^it has no loadable module support/);
  });

  it('accepts y and m', () => {
    expect(refusalReason({ source: 'x', options: parseKernelConfig('CONFIG_MODULES=y\nCONFIG_USB=m') }, ['CONFIG_USB'])).to.equal(undefined);
  });

  it('reads /proc/config.gz only for the running kernel', async () => {
    mkdirSync(join(root, 'proc'));
    writeFileSync(join(root, 'proc', 'config.gz'), gzipSync('CONFIG_MODULES=y\n'));
    expect(await findKernelConfig('1.0', false, root)).to.equal(undefined);
    expect((await findKernelConfig('1.0', true, root)).source).to.equal(join(root, 'proc', 'config.gz'));
  });

  it('reads this machine\'s real /proc/config.gz when it has one', async function () {
    const config = await findKernelConfig((await import('node:os')).release(), true, '/');
    if (config === undefined) this.skip();
    expect(config.options.size).to.be.greaterThan(100);
  });
});

describe('module state from /sys/module (a copy of its layout: this kernel cannot load modules)', () => {
  let sys;
  before(() => {
    sys = mkdtempSync(join(tmpdir(), 'kvc-sys-'));
    mkdirSync(join(sys, 'module/usbip_core/holders'), { recursive: true });
    writeFileSync(join(sys, 'module/usbip_core/initstate'), 'live\n');
    writeFileSync(join(sys, 'module/usbip_core/refcnt'), '2\n');
    mkdirSync(join(sys, 'module/usbip_core/holders/vhci_hcd'));
    mkdirSync(join(sys, 'module/usbip_core/holders/usbip_host'));
    mkdirSync(join(sys, 'module/usbcore/parameters'), { recursive: true });
  });
  after(() => rmSync(sys, { recursive: true, force: true }));

  it('reads a loaded module with refcnt and holders, - and _ equal', async () => {
    expect(await readModuleStatus('usbip-core', sys)).to.deep.equal({ name: 'usbip_core', state: 'live', refcnt: 2, holders: ['usbip_host', 'vhci_hcd'] });
  });
  it('reads a module directory without initstate as built in', async () => {
    expect((await readModuleStatus('usbcore', sys)).state).to.equal('builtin');
  });
  it('reads a missing module as absent', async () => {
    expect((await readModuleStatus('vhci-hcd', sys)).state).to.equal('absent');
  });
  it('does not take "usbip" for "usbip_core" (no substring match)', async () => {
    expect((await readModuleStatus('usbip', sys)).state).to.equal('absent');
  });
  it('tells module support by /proc/modules', async () => {
    const proc = mkdtempSync(join(tmpdir(), 'kvc-proc-'));
    expect(await kernelHasModuleSupport(proc)).to.equal(false);
    writeFileSync(join(proc, 'modules'), '');
    expect(await kernelHasModuleSupport(proc)).to.equal(true);
    rmSync(proc, { recursive: true, force: true });
  });
  it('agrees with another sign of CONFIG_MODULES on this machine\'s real kernel (/proc/sys/kernel/modprobe)', async () => {
    const { existsSync } = await import('node:fs');
    expect(await kernelHasModuleSupport('/proc')).to.equal(existsSync('/proc/sys/kernel/modprobe'));
  });
});
