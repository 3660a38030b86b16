// Unit test of the USB/IP recipe's source extractor (host/etc/kvc/usbip/extract-source), run for
// real (perl, xz, dd, tar of this machine) on small archives laid out as Debian's kernel source
// archives are: members sorted by name, byte by byte (`find | LC_ALL=C sort`), in a multi-block xz
// file. Each extraction is compared with what tar gives from the whole archive; archives it must
// not trust (one block, members out of order) take the whole-archive path and say so.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
// KVC_TEST_EXTRACT_SOURCE: another version of the script (to watch an older one fail a case).
const EXTRACT = process.env.KVC_TEST_EXTRACT_SOURCE ?? join(ROOT, 'host/etc/kvc/usbip/extract-source');

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options });
  if (result.error) throw result.error;
  return result;
}

// Every file under dir, with its content, as a sorted list (the tree to compare).
function tree(dir) {
  const files = [];
  const walk = (folder) => {
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(`${relative(dir, path)} ${readFileSync(path).toString('hex')}`);
    }
  };
  walk(dir);
  return files;
}

describe('usbip recipe: extract-source takes a few members out of a kernel-like source archive', function () {
  this.timeout(60_000);
  let work;
  const top = 'linux-source-9.9';
  // Folders and files named as in drivers/usb/typec (mux, mux.c, mux.h, then mux/…): the order a
  // byte-wise sort gives, which the extractor relies on. Incompressible contents, so that xz's
  // 64 KiB blocks hold few members each and a folder spans several blocks.
  const layout = {
    'Makefile': 3000,
    'arch/x86/big.bin': 300_000,
    'drivers/scsi/sd.c': 40_000,
    'drivers/scsi/sd.h': 8000,
    'drivers/usb/common/common.c': 20_000,
    'drivers/usb/core/hub.c': 150_000,
    'drivers/usb/core/usb.c': 60_000,
    'drivers/usb/typec/mux.c': 30_000,
    'drivers/usb/typec/mux.h': 2000,
    'drivers/usb/typec/mux/Kconfig': 1000,
    'drivers/usb/typec/mux/fsa4480.c': 90_000,
    'drivers/usb/usb-skeleton.c': 20_000,
    'drivers/usb/usbip/stub_dev.c': 70_000,
    'drivers/usb/usbip/vhci.h': 5000,
    'drivers/usb/usbip/vhci_hcd.c': 120_000,
    'drivers/usb/usbip.c': 4000,
    'tools/usb/usbip/README': 6000,
    'virt/kvm/kvm_main.c': 200_000,
  };
  const archive = (name, { sorted = true, blockSize = '64KiB' } = {}) => {
    const list = run('sh', ['-c', `cd "$0" && find ${top} ${sorted ? '| LC_ALL=C sort' : '| LC_ALL=C sort -r'}`, join(work, 'src')]).stdout;
    const file = join(work, name);
    const tar = run('sh', ['-c', `cd "$0" && tar -c --no-recursion -T - | xz -T2 --block-size=${blockSize} >"$1"`, join(work, 'src'), file], { input: list });
    expect(tar.status, tar.stderr).to.equal(0);
    return file;
  };
  const compare = (file, paths, env = {}) => {
    const fast = join(work, `fast-${Math.random().toString(36).slice(2)}`);
    const whole = join(work, `whole-${Math.random().toString(36).slice(2)}`);
    mkdirSync(fast);
    mkdirSync(whole);
    const members = paths.map((path) => `${top}/${path}`);
    const scratch = join(work, `tmp-${Math.random().toString(36).slice(2)}`);
    mkdirSync(scratch);
    const result = run('perl', [EXTRACT, file, fast, ...members], { env: { ...process.env, TMPDIR: scratch, ...env } });
    expect(readdirSync(scratch), 'no scratch file left').to.deep.equal([]);
    const tar = run('sh', ['-c', 'archive=$0 dest=$1; shift; xz -dc "$archive" | tar -x -C "$dest" --strip-components=1 -- "$@"', file, whole, ...members]);
    expect(tar.status, tar.stderr).to.equal(0);
    expect(tree(fast)).to.deep.equal(tree(whole));
    expect(readdirSync(fast)).to.not.include('.extract-source.tar');
    return result;
  };

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'kvc-extract-source-'));
    for (const [path, size] of Object.entries(layout)) {
      mkdirSync(join(work, 'src', top, dirname(path)), { recursive: true });
      writeFileSync(join(work, 'src', top, path), randomBytes(size));
    }
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('the test archive has many blocks (as Debian\'s have)', () => {
    const listing = run('xz', ['--robot', '--list', archive('blocks.tar.xz')]).stdout;
    const blocks = Number(listing.split('\n').find((line) => line.startsWith('file\t')).split('\t')[2]);
    expect(blocks).to.be.greaterThan(10);
  });

  it('USB/IP\'s members: the same files as tar gives, read from the blocks that hold them only', () => {
    const result = compare(archive('a.tar.xz'), ['drivers/usb/common', 'drivers/usb/core', 'drivers/usb/usbip', 'drivers/scsi/sd.h']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr, result.stderr).to.not.contain('whole archive');
  });

  it('a folder beside files that sort between it and its contents (mux, mux.c, mux.h, mux/…)', () => {
    const result = compare(archive('b.tar.xz'), ['drivers/usb/typec/mux', 'drivers/usb/usbip']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr, result.stderr).to.not.contain('whole archive');
  });

  it('the first and the last members of the archive', () => {
    const result = compare(archive('c.tar.xz'), ['Makefile', 'virt']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr, result.stderr).to.not.contain('whole archive');
  });

  it('an archive of one block: read whole, saying so, the same files', () => {
    const result = compare(archive('one.tar.xz', { blockSize: '64MiB' }), ['drivers/usb/usbip']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.contain('reading the whole archive (one block)');
  });

  it('members out of order: read whole, saying so, the same files', () => {
    const result = compare(archive('unsorted.tar.xz', { sorted: false }), ['drivers/usb/usbip', 'drivers/usb/core']);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/reading the whole archive \((members out of order|.* not found where the archive's order puts it)/);
  });

  it('a block whose decoder fails: read whole, saying so, the same files (never fewer files than tar)', () => {
    // The attack (review of this round): a dd that fails for one block gives xz no input, and
    // when that block holds whole members only, the walk goes on at the next block's first
    // header: the members of the failed block are missing, with exit 0. Laid out here to the
    // byte: top/ and top/a/ (512 bytes each), a/f1 (its header and 64,000 bytes) fill block 0
    // (64 KiB); a/f2 (its header and 65,024 bytes) is block 1 exactly; a/f3 begins block 2. The dd
    // fails for block 1 (a stand-in for a decoder killed by the OOM killer).
    const src = join(work, 'exact');
    mkdirSync(join(src, 'top/a'), { recursive: true });
    writeFileSync(join(src, 'top/a/f1'), randomBytes(64_000));
    writeFileSync(join(src, 'top/a/f2'), randomBytes(65_024));
    writeFileSync(join(src, 'top/a/f3'), randomBytes(30_000));
    const file = join(work, 'exact.tar.xz');
    const made = run('sh', ['-c', 'cd "$0" && printf "top\ntop/a\ntop/a/f1\ntop/a/f2\ntop/a/f3\n" | tar -c --no-recursion -T - | xz -T2 --block-size=64KiB >"$1"', src, file]);
    expect(made.status, made.stderr).to.equal(0);
    const blocks = run('xz', ['--robot', '--list', '-vv', file]).stdout.split('\n').map((line) => line.split('\t')).filter((fields) => fields[0] === 'block');
    expect(Number(blocks[1][5]), 'block 1 starts at 64 KiB').to.equal(65_536);
    const failed = Number(blocks[1][4]) + Number(blocks[1][11]);
    const bin = join(work, 'failing-dd');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'dd'), `#!/bin/sh\nfor arg; do [ "$arg" = skip=${failed} ] && exit 1; done\nexec /bin/dd "$@"\n`, { mode: 0o755 });
    const fast = join(work, 'exact-fast');
    const whole = join(work, 'exact-whole');
    mkdirSync(fast);
    mkdirSync(whole);
    const result = run('perl', [EXTRACT, file, fast, 'top/a'], { env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } });
    expect(run('tar', ['-x', '-J', '-f', file, '-C', whole, '--strip-components=1', 'top/a']).status).to.equal(0);
    expect(result.status, result.stderr).to.equal(0);
    expect(tree(fast), result.stderr).to.deep.equal(tree(whole));
    expect(result.stderr).to.match(/reading the whole archive \(block 1 did not decode/);
  });

  it('a member the archive lacks: fails (as tar does), after reading the whole archive', () => {
    const dest = join(work, 'missing');
    mkdirSync(dest);
    const result = run('perl', [EXTRACT, archive('d.tar.xz'), dest, `${top}/drivers/usb/nosuch`]);
    expect(result.status).to.not.equal(0);
    expect(result.stderr).to.contain('drivers/usb/nosuch');
  });
});
