// kvc's small tmpfs for a tools state folder (src/host/small-tmpfs.ts), on the real kernel: the
// mount with its limits, a second mount refused as "there", what a writer that tries to fill it
// gets (ENOSPC on it, nothing on the host's file system), and the unmount.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountSmallTmpfs, smallTmpfsOptions, tmpfsMountedAt, unmountSmallTmpfs } from '../../lib/host/small-tmpfs.js';

describe('a small tmpfs of kvc\'s own on a host folder (the real kernel)', function () {
  this.timeout(30000);
  let dir;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-small-tmpfs-')); });
  afterEach(async () => {
    await unmountSmallTmpfs(dir).catch(() => undefined);
    await unmountSmallTmpfs(join(dir, 'tools state')).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('mounts one with its limits (root\'s alone, no devices, no set-uid, no exec), once; a writer filling it gets ENOSPC there; unmounts it', async () => {
    expect(await mountSmallTmpfs(dir, { bytes: 64 * 1024, inodes: 16 })).to.equal('mounted');
    expect(await mountSmallTmpfs(dir, { bytes: 64 * 1024, inodes: 16 })).to.equal('there');
    const line = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').find((entry) => entry.split(' ')[4] === dir);
    expect(line).to.match(/ rw,nosuid,nodev,noexec[, ].* - tmpfs kvc-tools-state rw,size=64k,nr_inodes=16,mode=700/);
    expect(() => writeFileSync(join(dir, 'big'), Buffer.alloc(1024 * 1024))).to.throw(/ENOSPC/);
    expect(() => { for (let i = 0; i < 32; i += 1) writeFileSync(join(dir, `f${i}`), ''); }).to.throw(/ENOSPC/);
    await unmountSmallTmpfs(dir);
    expect(tmpfsMountedAt(readFileSync('/proc/self/mountinfo', 'utf8'), dir)).to.equal(false);
  });

  it('finds its own tmpfs through a link to the folder and in a path with a space; leaves another tmpfs there alone', async () => {
    const spaced = join(dir, 'tools state');
    mkdirSync(spaced);
    const link = join(dir, 'link');
    symlinkSync(spaced, link);
    expect(await mountSmallTmpfs(link, { bytes: 64 * 1024, inodes: 16 })).to.equal('mounted');
    expect(await mountSmallTmpfs(spaced, { bytes: 64 * 1024, inodes: 16 })).to.equal('there');
    expect(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes('kvc-tools-state') && line.includes('tools\\040state'))).to.have.length(1);
    await unmountSmallTmpfs(link);
    expect(tmpfsMountedAt(readFileSync('/proc/self/mountinfo', 'utf8'), spaced)).to.equal(false);
    // A tmpfs of someone else's on the folder: not kvc's, neither counted nor unmounted.
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'someone-else', spaced]).status).to.equal(0);
    try {
      await unmountSmallTmpfs(spaced);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).to.include(' - tmpfs someone-else ');
    } finally {
      spawnSync('umount', [spaced]);
    }
  });

  it('its options and the mount table\'s reading, on data', () => {
    expect(smallTmpfsOptions({ bytes: 262144, inodes: 256 })).to.equal('size=262144,nr_inodes=256,mode=0700,nosuid,nodev,noexec');
    expect(() => smallTmpfsOptions({ bytes: 0, inodes: 1 })).to.throw(RangeError);
    const table = '59 26 0:45 / /run/kvc/usbip/tools-state/run/vhci_hcd rw,nosuid - tmpfs kvc-tools-state rw\n60 26 0:46 / /run/x rw - ext4 /dev/sda rw\n';
    expect(tmpfsMountedAt(table, '/run/kvc/usbip/tools-state/run/vhci_hcd')).to.equal(true);
    expect(tmpfsMountedAt(table, '/run/x')).to.equal(false);
    expect(tmpfsMountedAt(table, '/run/kvc')).to.equal(false);
    expect(tmpfsMountedAt('61 26 0:47 / /run/a\\040b rw - tmpfs kvc-tools-state rw\n', '/run/a b')).to.equal(true);
    expect(tmpfsMountedAt('61 26 0:47 / /run/a rw - tmpfs other rw\n', '/run/a')).to.equal(false);
  });
});
