// host/etc/kvc/usbip/kernel-crcs, the header-less recipe's reader of a kernel's own exported-symbol
// tables (issue 21): the CRC it reads from a real module's __crc_ symbol (Debian 6.12 cloud
// kernel's nf_socket_ipv6.ko.xz, as packaged) equals the one kmod reads from the __versions of the
// module that imports it (xt_socket.ko.xz of the same package: `modprobe --dump-modversions` says
// 0x64c61d5f nf_sk_lookup_slow_v6); a file that holds no kernel image stops it with the reason.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('../../../host/etc/kvc/usbip/kernel-crcs', import.meta.url));
const tree = fileURLToPath(new URL('../../fixtures/abi/6.12-cloud-tree', import.meta.url));
const run = (...args) => spawnSync('python3', [script, ...args], { encoding: 'utf8' });

describe('usbip recipe: kernel-crcs', () => {
  it('reads a module\'s exported CRCs, as Module.symvers lines, equal to the importer\'s __versions', () => {
    const result = run('-', tree);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.equal('0x64c61d5f\tnf_sk_lookup_slow_v6\tnf_socket_ipv6\tEXPORT_SYMBOL_GPL\t\n');
    expect(result.stderr).to.match(/1 exported symbols with their CRCs \(0 of vmlinux\)/);
  });

  it('a file that is no kernel image: fails with the reason, prints no CRC', () => {
    const result = run(fileURLToPath(import.meta.url), tree);
    expect(result.status).to.equal(1);
    expect(result.stdout).to.equal('');
    expect(result.stderr).to.match(/no vmlinux found in .*recipe-kernel-crcs\.test\.js/);
  });
});
