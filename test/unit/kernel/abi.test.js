// Unit tests: kvc's reading of kernel modules' ABI (issue 21) on real Debian modules cut down to
// the sections read (test/fixtures/abi/README.md): vermagic and __versions checked against kmod's
// own `modprobe --dump-modversions`, Module.symvers recovered from installed modules, the vermagic
// comparison, the config search order, the recipe plan, and the pre-load ABI check (a module
// with one CRC altered is refused, the symbol named).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { elfSections, ElfFormatError, splitElfStream } from '../../../lib/kernel/abi/elf.js';
import { parseDumpModversions, readModuleAbi } from '../../../lib/kernel/abi/module-abi.js';
import { formatSymvers, parseKallsymsCrcs, parseSymvers, recoverSymvers } from '../../../lib/kernel/abi/symvers.js';
import { vermagicDifference } from '../../../lib/kernel/abi/vermagic.js';
import { configSearchOrder, firstConfig } from '../../../lib/kernel/abi/config-search.js';
import { describeRecipePlan, planRecipe } from '../../../lib/kernel/abi/recipe-plan.js';
import { checkAbi, configRandomisesLayout } from '../../../lib/kernel/abi/abi-check.js';
import { nearFirst, readHostExports } from '../../../lib/kernel/abi/host-abi.js';
import { parseAbiProbe } from '../../../lib/ops/abi-preload.js';

const FIXTURES = new URL('../../fixtures/abi/', import.meta.url).pathname;
const bytes = (name) => readFileSync(join(FIXTURES, name));
const abi = (file, name) => readModuleAbi(name, bytes(file));
const V61 = '6.1.0-56-amd64 SMP preempt mod_unload modversions ';
const REBUILD = 'kvc build usbip 6.1.0-56-amd64 --force';

describe('module ABI: vermagic and __versions', () => {
  it('reads the same CRCs as modprobe --dump-modversions, in 6.1 and 6.12 modules', () => {
    for (const name of ['6.1-usbip-core', '6.1-vhci-hcd', '6.12-usbip-core']) {
      const ours = abi(`${name}.ko`, name).versions;
      const kmods = parseDumpModversions(readFileSync(join(FIXTURES, `${name}.modversions.txt`), 'utf8'));
      expect(kmods.size, name).to.be.greaterThan(30);
      expect([...ours]).to.deep.equal([...kmods]);
    }
  });

  it('reads vermagic byte for byte (the trailing space too) and the exports', () => {
    const core = abi('6.1-usbip-core.ko', 'usbip-core');
    expect(core.vermagic).to.equal(V61);
    expect(abi('6.12-usbip-core.ko', 'usbip-core').vermagic).to.equal('6.12.117+deb12-amd64 SMP preempt mod_unload modversions ');
    expect(core.exports).to.include.members(['usbip_recv', 'usbip_pack_pdu']);
    expect(core.versions.get('alloc_workqueue')).to.equal(0x49cd25ed);
  });

  it('splits concatenated modules (xz -dc of several), signatures appended or not', () => {
    const a = bytes('6.1-usbip-core.ko');
    const b = bytes('6.1-vhci-hcd.ko');
    const signature = Buffer.concat([Buffer.alloc(300, 7), Buffer.from('~Module signature appended~\n')]);
    const parts = splitElfStream(Buffer.concat([a, signature, b, a]));
    expect(parts.map((part) => part.length)).to.deep.equal([a.length + signature.length, b.length, a.length]);
    expect(readModuleAbi('vhci-hcd', parts[1]).versions.size).to.equal(93);
    expect(() => splitElfStream(Buffer.concat([signature, a]))).to.throw(ElfFormatError, /byte 0/);
  });

  it('refuses what is not a 64-bit little-endian ELF file', () => {
    expect(() => elfSections(Buffer.from('not an elf file at all, just some text that is long enough to be read as one'))).to.throw(ElfFormatError);
    const truncated = bytes('6.1-usbip-core.ko').subarray(0, 200);
    expect(() => elfSections(truncated)).to.throw(ElfFormatError, /outside/);
  });
});

describe('Module.symvers recovered from installed modules', () => {
  const installed = () => ['usbip-core', 'usbip-host', 'vhci-hcd', 'usbcore', 'usb-common'].map((name) => abi(`6.1-${name}.ko`, name));

  it('takes each CRC from the importers, each module from the exporter, else vmlinux', () => {
    const { table, conflicts } = recoverSymvers(installed());
    expect(conflicts.size).to.equal(0);
    expect(table.get('usbip_recv')).to.deep.equal({ crc: 0xd4485947, module: 'usbip-core', namespace: '' });
    expect(table.get('usb_hcd_unlink_urb_from_ep')).to.deep.equal({ crc: 0xadd4efa8, module: 'usbcore', namespace: '' });
    expect(table.get('alloc_workqueue')?.module).to.equal('vmlinux');
    // Every import of vhci-hcd is recovered with the CRC vhci-hcd was built with.
    for (const [symbol, crc] of abi('6.1-vhci-hcd.ko', 'vhci-hcd').versions) expect(table.get(symbol)?.crc, symbol).to.equal(crc);
  });

  it('leaves out a symbol two modules import with different CRCs', () => {
    const modules = installed();
    const vhci = modules[2];
    const altered = { ...vhci, versions: new Map([...vhci.versions].map(([symbol, crc]) => [symbol, symbol === 'usb_put_dev' ? crc ^ 1 : crc])) };
    const { table, conflicts } = recoverSymvers([...modules.slice(0, 2), altered, ...modules.slice(3)]);
    expect(table.has('usb_put_dev')).to.equal(false);
    expect(conflicts.get('usb_put_dev')).to.have.length(2);
  });

  it('writes a Module.symvers that reads back the same', () => {
    const { table } = recoverSymvers(installed());
    const text = formatSymvers(table);
    expect(text.split('\n')[0]).to.match(/^0x[0-9a-f]{8}\t\S+\t\S+\tEXPORT_SYMBOL\t$/);
    expect([...parseSymvers(text)]).to.deep.equal([...table]);
  });

  it('reads __crc_ CRCs from kallsyms only from absolute symbols with an address', () => {
    const crcs = parseKallsymsCrcs('00000000a1b2c3d4 A __crc_printk\n0000000000000000 A __crc_hidden\nffffffff81000000 R __crc_kmalloc\n');
    expect([...crcs]).to.deep.equal([['printk', 0xa1b2c3d4]]);
  });
});

describe('vermagic comparison', () => {
  it('is equal only byte for byte', () => {
    expect(vermagicDifference(V61, V61)).to.equal(undefined);
    expect(vermagicDifference(V61, V61.trim())).to.match(/byte 49/);
    expect(vermagicDifference(V61, '6.1.0-55-amd64 SMP preempt mod_unload modversions ')).to.match(/6\.1\.0-55-amd64, the kernel is 6\.1\.0-56-amd64/);
    expect(vermagicDifference(V61, '6.1.0-56-amd64 SMP mod_unload ')).to.equal('it lacks preempt modversions');
    expect(vermagicDifference(V61, `${V61}RANDSTRUCT_abc `)).to.match(/it has RANDSTRUCT_abc/);
  });
});

describe('kernel config search order', () => {
  it('is /proc/config.gz (running), /boot/config-K, /lib/modules/K/config, --kernel-config', () => {
    const paths = (search) => configSearchOrder(search).map((candidate) => candidate.path);
    expect(paths({ kver: 'K', running: true, root: '/r', explicit: '/tmp/my.config' })).to.deep.equal(['/r/proc/config.gz', '/r/boot/config-K', '/r/lib/modules/K/config', '/tmp/my.config']);
    expect(paths({ kver: 'K', running: false, root: '/' })).to.deep.equal(['/boot/config-K', '/lib/modules/K/config']);
  });

  it('takes the first that exists', () => {
    const search = { kver: 'K', running: true, root: '/', explicit: '/x' };
    expect(firstConfig(search, (path) => path === '/lib/modules/K/config' || path === '/x')?.path).to.equal('/lib/modules/K/config');
    expect(firstConfig(search, (path) => path === '/x')?.why).to.equal('named with --kernel-config');
    expect(firstConfig(search, () => false)).to.equal(undefined);
  });
});

describe('recipe plan', () => {
  const config = { path: '/boot/config-K', why: 'installed with kernel K' };
  const facts = { kver: 'K', headers: undefined, config, source: 'linux-source-6.1 6.1.192-2', crcs: '/lib/modules/K', randstructWithoutSeed: false };

  it('takes headers when the package exists, else the source when nothing is missing', () => {
    expect(planRecipe({ ...facts, headers: 'linux-headers-K' }).recipe).to.equal('headers');
    const source = planRecipe(facts);
    expect(source.recipe).to.equal('source');
    expect(describeRecipePlan(source)).to.match(/^source recipe \(no headers package for K; config found: \/boot\/config-K/);
  });

  it('says what is missing and how to get it', () => {
    const plan = planRecipe({ ...facts, config: undefined, source: undefined });
    expect(plan.recipe).to.equal(undefined);
    expect(plan.missing.map((item) => item.what)).to.deep.equal(['the config of K', 'the source of K']);
    expect(describeRecipePlan(plan)).to.match(/--kernel-config FILE.*--kernel-source PATH/);
    expect(planRecipe({ ...facts, randstructWithoutSeed: true }).missing[0].what).to.equal('the RANDSTRUCT seed of K');
  });

  it('follows the configuration when it forces one', () => {
    expect(planRecipe({ ...facts, headers: 'linux-headers-K', forced: 'source' }).recipe).to.equal('source');
  });
});

describe('pre-load ABI check', () => {
  const host = () => recoverSymvers(['usbip-core', 'usbip-host', 'usbcore', 'usb-common'].map((name) => abi(`6.1-${name}.ko`, name)));
  const target = (overrides = {}) => ({
    kver: '6.1.0-56-amd64',
    vermagic: { value: V61, from: 'usbcore.ko' },
    crcs: new Map([...host().table].map(([symbol, entry]) => [symbol, { crc: entry.crc, from: 'the installed modules' }])),
    randstruct: false,
    imageExports: new Set(),
    ...overrides,
  });
  const vhci = () => abi('6.1-vhci-hcd.ko', 'vhci-hcd');

  it('loads a module whose vermagic and every known CRC match', () => {
    const verdict = checkAbi([vhci()], target(), REBUILD);
    expect(verdict.kind).to.equal('load');
    expect(verdict.checked).to.be.greaterThan(60);
  });

  it('refuses a module with one CRC altered, naming the symbol and the remedy', () => {
    const module = vhci();
    const versions = new Map(module.versions);
    versions.set('usbip_recv', (versions.get('usbip_recv') ^ 0x10) >>> 0);
    const verdict = checkAbi([abi('6.1-usbip-core.ko', 'usbip-core'), { ...module, versions }], target(), REBUILD);
    expect(verdict.kind).to.equal('refuse');
    expect(verdict.module).to.equal('vhci-hcd');
    expect(verdict.symbol).to.equal('usbip_recv');
    expect(verdict.message).to.match(/disagrees with kernel 6\.1\.0-56-amd64 about the version of symbol usbip_recv/);
    expect(verdict.hint).to.include(REBUILD);
  });

  it('refuses a module built for another kernel (vermagic)', () => {
    const verdict = checkAbi([abi('6.12-usbip-core.ko', 'usbip-core')], target(), REBUILD);
    expect(verdict.kind).to.equal('refuse');
    expect(verdict.message).to.match(/vermagic .* is not the kernel's .*built for release 6\.12\.117\+deb12-amd64/);
  });

  it('skips the symbols the image exports itself, and counts the unknown ones', () => {
    const crcs = new Map(target().crcs);
    crcs.set('usbip_recv', { crc: 1, from: 'elsewhere' });
    crcs.delete('usb_put_dev');
    const verdict = checkAbi([vhci()], target({ crcs, imageExports: new Set(['usbip_recv']) }), REBUILD);
    expect(verdict.kind).to.equal('load');
    expect(verdict.unchecked).to.include('usb_put_dev').and.not.include('usbip_recv');
  });

  it('refuses on a RANDSTRUCT kernel a module built without the seed', () => {
    expect(configRandomisesLayout(new Map([['CONFIG_RANDSTRUCT_FULL', 'y']]))).to.equal(true);
    expect(configRandomisesLayout(new Map([['CONFIG_RANDSTRUCT_NONE', 'y']]))).to.equal(false);
    const verdict = checkAbi([vhci()], target({ randstruct: true, vermagic: undefined }), REBUILD);
    expect(verdict.kind).to.equal('refuse');
    expect(verdict.message).to.match(/CONFIG_RANDSTRUCT/);
  });

  it('reads the image probe: vermagic, CRCs and the exports depmod lists', () => {
    const out = [
      '==> vermagic /lib/modules/K/extra/vhci-hcd.ko <==', V61,
      '==> versions /lib/modules/K/extra/vhci-hcd.ko <==', readFileSync(join(FIXTURES, '6.1-vhci-hcd.modversions.txt'), 'utf8').trimEnd(),
      '==> depends /lib/modules/K/extra/vhci-hcd.ko <==', 'usbip-core', 'usbcore', 'usb-common',
      '==> vermagic /lib/modules/K/extra/usbip-core.ko <==', V61,
      '==> versions /lib/modules/K/extra/usbip-core.ko <==',
      '==> symbols <==', 'alias symbol:usbip_recv usbip_core', '',
    ].join('\n');
    const probe = parseAbiProbe(out);
    expect(probe.modules).to.have.length(2);
    expect([...probe.depends]).to.deep.equal(['usbcore', 'usb-common']);
    expect(probe.modules[0].name).to.equal('vhci-hcd');
    expect(probe.modules[0].vermagic).to.equal(V61);
    expect([...probe.modules[0].versions]).to.deep.equal([...vhci().versions]);
    expect([...probe.exports]).to.deep.equal(['usbip_recv']);
  });

  it('reads first the modules that depend on what the image needs', () => {
    const dep = new Map([['usbip_host', ['usbcore', 'usb_common']], ['snd', []], ['uas', ['usbcore']]]);
    expect(nearFirst(['/k/a/snd.ko', '/k/b/uas.ko.xz', '/k/c/usbip-host.ko'], dep, ['usbcore'])).to.deep.equal(['/k/b/uas.ko.xz', '/k/c/usbip-host.ko', '/k/a/snd.ko']);
  });

  it('names xz as missing when the kernel\'s .ko.xz modules cannot be read without it, and reads the rest', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kvc-abi-'));
    const path = process.env.PATH;
    try {
      const dir = join(root, 'lib/modules/6.12.117+deb12-amd64/kernel/drivers/usb');
      mkdirSync(dir, { recursive: true });
      copyFileSync(join(FIXTURES, '6.1-usbip-host.ko'), join(dir, 'usbip-host.ko'));
      writeFileSync(join(dir, 'usbcore.ko.xz'), execFileSync('xz', ['-c', join(FIXTURES, '6.1-usbcore.ko')]));
      // A PATH with no xz on it, as on a minimal Debian install (xz-utils is Priority: standard).
      process.env.PATH = root;
      const found = await readHostExports(root, '6.12.117+deb12-amd64', false, new Set(vhci().versions.keys()));
      expect(found.missingTools).to.deep.equal(['xz']);
      expect(found.read).to.equal(1);
      expect([...found.crcs.values()].every((known) => !known.from.endsWith('.xz'))).to.equal(true);
    } finally {
      process.env.PATH = path;
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('learns the kernel side from an installed tree, .ko and .ko.xz', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kvc-abi-'));
    try {
      const dir = join(root, 'lib/modules/6.1.0-56-amd64/kernel/drivers/usb');
      mkdirSync(dir, { recursive: true });
      copyFileSync(join(FIXTURES, '6.1-usbip-host.ko'), join(dir, 'usbip-host.ko'));
      writeFileSync(join(dir, 'usbcore.ko.xz'), execFileSync('xz', ['-c', join(FIXTURES, '6.1-usbcore.ko')]));
      writeFileSync(join(dir, 'usb-common.ko.xz'), execFileSync('xz', ['-c', join(FIXTURES, '6.1-usb-common.ko')]));
      const wanted = new Set(vhci().versions.keys());
      const found = await readHostExports(root, '6.1.0-56-amd64', false, wanted);
      expect(found.vermagic?.value).to.equal(V61);
      expect(found.read).to.equal(3);
      expect(found.missingTools).to.deep.equal([]);
      expect([...found.crcs.values()].some((known) => known.from.endsWith('usbcore.ko.xz')), 'read from a .ko.xz').to.equal(true);
      expect(found.crcs.get('usbip_recv')?.crc).to.equal(0xd4485947);
      expect(found.crcs.get('usbip_recv')?.from).to.match(/usbip-host\.ko$/);
      expect(found.crcs.get('kmalloc_trace')?.from ?? found.crcs.get('__kmalloc')?.from).to.be.a('string');
      expect(checkAbi([vhci()], { kver: '6.1.0-56-amd64', vermagic: found.vermagic, crcs: found.crcs, randstruct: false, imageExports: new Set() }, REBUILD).kind).to.equal('load');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
