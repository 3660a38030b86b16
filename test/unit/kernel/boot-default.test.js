// Unit tests: the next boot's kernel as each boot loader's own files say it (pure, on data: a
// grub.cfg shaped as Debian 12's grub-mkconfig writes it, Fedora's BLS entries, systemd-boot's
// loader.conf and EFI variables), and the reader on a real folder tree.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootDefaultKernel, readBootFiles } from '../../../lib/kernel/boot-default.js';
import { kernelOfGrubDefault, parseGrubMenu } from '../../../lib/kernel/grub-menu.js';
import { blsMenuOrder, globMatches, kernelOfBlsDefault, loaderConfDefault, parseBlsEntry } from '../../../lib/kernel/bls.js';

const debianCfg = readFileSync(new URL('../../fixtures/boot/debian12-grub.cfg', import.meta.url), 'utf8');
const grubenv = (vars) => `# GRUB Environment Block\n${Object.entries(vars).map(([k, v]) => `${k}=${v}\n`).join('')}`.padEnd(1024, '#');
const bls = (kver, extra = '') => `title Fedora Linux (${kver}) 39 (Workstation Edition)\nversion ${kver}\nlinux /vmlinuz-${kver}\ninitrd /initramfs-${kver}.img\noptions root=UUID=x ro\n${extra}`;
const fedora = ['6.5.6-300.fc39.x86_64', '6.7.9-200.fc39.x86_64', '6.6.14-200.fc39.x86_64'].map((kver) => parseBlsEntry(`a1b2c3-${kver}.conf`, bls(kver)));
const OLD = '6.1.0-56-amd64';
const NEW = '6.12.117+deb12-amd64';

describe('next boot: GRUB\'s menu (pure, on a Debian 12 grub.cfg)', () => {
  it('reads the default, the entries, the submenu and each entry\'s kernel', () => {
    const menu = parseGrubMenu(debianCfg);
    expect(menu.default).to.equal('0');
    expect(menu.bls).to.equal(false);
    expect(menu.entries.map((entry) => entry.title)).to.deep.equal(['Debian GNU/Linux', 'Advanced options for Debian GNU/Linux', 'UEFI Firmware Settings']);
    expect(menu.entries[0].kver).to.equal(NEW);
    expect(menu.entries[1].children.map((entry) => entry.kver)).to.deep.equal([NEW, NEW, OLD, OLD]);
  });

  it('resolves a default by number, by path of numbers, titles or ids, and by a title alone', () => {
    const { entries } = parseGrubMenu(debianCfg);
    expect(kernelOfGrubDefault(entries, '0')).to.equal(NEW);
    expect(kernelOfGrubDefault(entries, '1>2')).to.equal(OLD);
    expect(kernelOfGrubDefault(entries, `Advanced options for Debian GNU/Linux>Debian GNU/Linux, with Linux ${OLD}`)).to.equal(OLD);
    expect(kernelOfGrubDefault(entries, `gnulinux-advanced-0b1c7f4e-8a6e-4a8f-9d3c-2f1e5b6a7c8d>gnulinux-${OLD}-advanced-0b1c7f4e-8a6e-4a8f-9d3c-2f1e5b6a7c8d`)).to.equal(OLD);
    expect(kernelOfGrubDefault([], `Debian GNU/Linux, with Linux ${OLD}`)).to.equal(OLD);
    // No entry there, or one that boots no kernel: nothing named.
    expect(kernelOfGrubDefault(entries, '7')).to.equal(undefined);
    expect(kernelOfGrubDefault(entries, '2')).to.equal(undefined);
  });

  it('GRUB_DEFAULT=saved: grub.cfg\'s "${saved_entry}" reads grubenv, entry 0 when unset', () => {
    const saved = debianCfg.replace('set default="0"', 'set default="${saved_entry}"');
    expect(parseGrubMenu(saved).default).to.equal('${saved_entry}');
    const links = [`vmlinuz-${NEW}`];
    expect(bootDefaultKernel({ grubCfg: saved, grubenv: grubenv({ saved_entry: `1>2` }), links })).to.equal(OLD);
    expect(bootDefaultKernel({ grubCfg: saved, grubenv: grubenv({}), links: [`vmlinuz-${OLD}`] })).to.equal(NEW);
  });

  it('with GRUB_DEFAULT=0 a stale saved_entry does not count; grub-reboot\'s next_entry always does', () => {
    const links = [`vmlinuz-${OLD}`];
    expect(bootDefaultKernel({ grubCfg: debianCfg, grubenv: grubenv({ saved_entry: '1>2' }), links })).to.equal(NEW);
    expect(bootDefaultKernel({ grubCfg: debianCfg, grubenv: grubenv({ next_entry: '1>2' }), links: [`vmlinuz-${NEW}`] })).to.equal(OLD);
  });

  it('grub.cfg not yet updated by the package\'s postinst still boots the old kernel, whatever the links say', () => {
    const before = debianCfg.replace(/^menuentry 'Debian GNU\/Linux'[\s\S]*?^}/m, (entry) => entry.replaceAll(NEW, OLD));
    expect(bootDefaultKernel({ grubCfg: before, links: [`vmlinuz-${NEW}`, `boot/vmlinuz-${NEW}`] })).to.equal(OLD);
    expect(bootDefaultKernel({ grubCfg: debianCfg, links: [`vmlinuz-${NEW}`, `boot/vmlinuz-${NEW}`] })).to.equal(NEW);
  });

  it('a grub.cfg that names no kernel leaves it to the links', () => {
    expect(bootDefaultKernel({ grubCfg: 'set default="0"\nmenuentry \'Memtest86+\' {\n\tlinux16 /boot/memtest86+.bin\n}\n', links: [undefined, `vmlinuz-${OLD}`] })).to.equal(OLD);
  });
});

describe('next boot: BLS entries, GRUB\'s blscfg and systemd-boot (pure, on data)', () => {
  it('reads an entry\'s id, title and kernel (its version, else its linux path); strips boot counting', () => {
    expect(fedora[0]).to.deep.include({ id: 'a1b2c3-6.5.6-300.fc39.x86_64', kver: '6.5.6-300.fc39.x86_64' });
    expect(parseBlsEntry('abc-6.1.0-56-amd64+3-0.conf', 'title Debian\nlinux /abc/6.1.0-56-amd64/linux\n').id).to.equal('abc-6.1.0-56-amd64');
    expect(parseBlsEntry('x.conf', 'title Debian\nlinux /vmlinuz-6.1.0-56-amd64\n').kver).to.equal(OLD);
    expect(parseBlsEntry('x.conf', 'title Debian\nversion ../../etc\n').kver).to.equal(undefined);
  });

  it('orders the menu newest first, entries with a sort-key before those without', () => {
    expect(blsMenuOrder(fedora).map((entry) => entry.kver)).to.deep.equal(['6.7.9-200.fc39.x86_64', '6.6.14-200.fc39.x86_64', '6.5.6-300.fc39.x86_64']);
    const keyed = parseBlsEntry('z-6.1.0-1.conf', bls('6.1.0-1', 'sort-key fedora\n'));
    expect(blsMenuOrder([...fedora, keyed])[0].kver).to.equal('6.1.0-1');
  });

  it('Fedora: GRUB\'s saved_entry is a BLS id; a menu index counts over the BLS menu', () => {
    const grubCfg = 'set default="${saved_entry}"\ninsmod blscfg\nblscfg\n';
    expect(parseGrubMenu(grubCfg).bls).to.equal(true);
    expect(bootDefaultKernel({ grubCfg, grubenv: grubenv({ saved_entry: 'a1b2c3-6.6.14-200.fc39.x86_64' }), entries: fedora, links: [] })).to.equal('6.6.14-200.fc39.x86_64');
    expect(bootDefaultKernel({ grubCfg, grubenv: grubenv({}), entries: fedora, links: [] })).to.equal('6.7.9-200.fc39.x86_64');
    expect(bootDefaultKernel({ grubCfg: 'set default="1"\nblscfg\n', entries: fedora, links: [] })).to.equal('6.6.14-200.fc39.x86_64');
  });

  it('systemd-boot: the one-shot entry, then bootctl set-default\'s, then loader.conf\'s glob, then the first entry', () => {
    expect(loaderConfDefault('timeout 3\ndefault a1b2c3-6.5*\n')).to.equal('a1b2c3-6.5*');
    expect(loaderConfDefault('default @saved\n')).to.equal(undefined);
    expect(globMatches('a1b2c3-6.[56]*', 'a1b2c3-6.6.14-200.fc39.x86_64')).to.equal(true);
    expect(globMatches('a1b2c3-6.5*.conf', 'a1b2c3-6.5.6-300.fc39.x86_64')).to.equal(true);
    expect(globMatches('a1b2c3-6.5*', 'a1b2c3-6.6.14-200.fc39.x86_64')).to.equal(false);
    expect(kernelOfBlsDefault(fedora, 'a1b2c3-6.5*')).to.equal('6.5.6-300.fc39.x86_64');
    const loaderConf = 'default a1b2c3-6.5*\n';
    const efi = { loaderInfo: 'systemd-boot 252.30-1~deb12u2' };
    expect(bootDefaultKernel({ loaderConf: '', entries: fedora, links: [] })).to.equal('6.7.9-200.fc39.x86_64');
    expect(bootDefaultKernel({ loaderConf, entries: fedora, links: [] })).to.equal('6.5.6-300.fc39.x86_64');
    expect(bootDefaultKernel({ loaderConf, entries: fedora, efi: { ...efi, entryDefault: 'a1b2c3-6.6.14-200.fc39.x86_64.conf' }, links: [] })).to.equal('6.6.14-200.fc39.x86_64');
    expect(bootDefaultKernel({ loaderConf, entries: fedora, efi: { ...efi, entryDefault: 'a1b2c3-6.6.14-200.fc39.x86_64', oneShot: 'a1b2c3-6.7.9-200.fc39.x86_64' }, links: [] })).to.equal('6.7.9-200.fc39.x86_64');
    // Booted by systemd-boot: a GRUB left behind on the disk does not count.
    expect(bootDefaultKernel({ grubCfg: debianCfg, loaderConf, entries: fedora, efi, links: [] })).to.equal('6.5.6-300.fc39.x86_64');
  });
});

describe('next boot: reading the boot files (real folder tree)', () => {
  let root;
  beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'kvc-bootfiles-')); });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('reads grub.cfg, grubenv, the links (not what they point at), systemd-boot\'s files in the ESP and its EFI variables', () => {
    mkdirSync(join(root, 'boot/grub'), { recursive: true });
    writeFileSync(join(root, 'boot/grub/grub.cfg'), debianCfg);
    writeFileSync(join(root, 'boot/grub/grubenv'), grubenv({ next_entry: '1>2' }));
    symlinkSync(`boot/vmlinuz-${NEW}`, join(root, 'vmlinuz'));
    mkdirSync(join(root, 'efi/loader/entries'), { recursive: true });
    writeFileSync(join(root, 'efi/loader/loader.conf'), 'default a1b2c3-6.5*\n');
    for (const entry of fedora) writeFileSync(join(root, 'efi/loader/entries', `${entry.id}.conf`), bls(entry.kver));
    const files = readBootFiles(root);
    expect(files.links).to.deep.equal([undefined, `boot/vmlinuz-${NEW}`]);
    expect(files.entries.map((entry) => entry.kver).sort()).to.deep.equal(fedora.map((entry) => entry.kver).sort());
    expect(bootDefaultKernel(files)).to.equal(OLD);
    // EFI variables: 4 bytes of attributes, then UTF-16LE with a NUL.
    mkdirSync(join(root, 'sys/firmware/efi/efivars'), { recursive: true });
    const efiVar = (text) => Buffer.concat([Buffer.from([7, 0, 0, 0]), Buffer.from(`${text}\0`, 'utf16le')]);
    writeFileSync(join(root, 'sys/firmware/efi/efivars/LoaderInfo-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f'), efiVar('systemd-boot 252.30-1~deb12u2'));
    expect(bootDefaultKernel(readBootFiles(root))).to.equal('6.5.6-300.fc39.x86_64');
    writeFileSync(join(root, 'sys/firmware/efi/efivars/LoaderEntryOneShot-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f'), efiVar('a1b2c3-6.6.14-200.fc39.x86_64.conf'));
    expect(bootDefaultKernel(readBootFiles(root))).to.equal('6.6.14-200.fc39.x86_64');
  });
});
