// kvc's small tmpfs for a tools state folder (src/host/small-tmpfs.ts), on the real kernel: the
// mount with its limits, a second mount refused as "there", what a writer that tries to fill it
// gets (ENOSPC on it, nothing on the host's file system), and the unmount.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountSmallTmpfs, smallTmpfsOptions, tmpfsMountedAt, unmountSmallTmpfs } from '../../lib/host/small-tmpfs.js';

describe('a small tmpfs of kvc\'s own on a host folder (the real kernel)', function () {
  this.timeout(30000);
  let dir;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-small-tmpfs-')); });
  afterEach(async () => {
    await unmountSmallTmpfs(dir).catch(() => undefined);
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

  it('its options and the mount table\'s reading, on data', () => {
    expect(smallTmpfsOptions({ bytes: 262144, inodes: 256 })).to.equal('size=262144,nr_inodes=256,mode=0700,nosuid,nodev,noexec');
    expect(() => smallTmpfsOptions({ bytes: 0, inodes: 1 })).to.throw(RangeError);
    const table = '59 26 0:45 / /run/kvc/usbip/tools-state/run/vhci_hcd rw,nosuid - tmpfs kvc-tools-state rw\n60 26 0:46 / /run/x rw - ext4 /dev/sda rw\n';
    expect(tmpfsMountedAt(table, '/run/kvc/usbip/tools-state/run/vhci_hcd')).to.equal(true);
    expect(tmpfsMountedAt(table, '/run/x')).to.equal(false);
    expect(tmpfsMountedAt(table, '/run/kvc')).to.equal(false);
  });
});
