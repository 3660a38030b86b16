// Unit tests with the real wg for the keys: the service's tunnel as it runs its commands
// (src/usbip/tunnel.ts). ip and `wg set` are stand-ins that record their arguments (this host's
// kernel has no wireguard; the guest's WireGuard steps run the real ones): the interface made at
// start, a leftover one deleted first, new peers given by wg set with a removed one taken off by
// its key, the interface deleted at stop; the private key never in an argument or a log line.
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { parsePeer, parseTunnel } from '../../../lib/usbip/wireguard-plan.js';
import { startTunnel } from '../../../lib/usbip/tunnel.js';
import { privateKeyPath } from '../../../lib/usbip/wireguard.js';

const KEY_A = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const KEY_B = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const laptop = parsePeer('laptop', { publicKey: KEY_A, address: '10.232.0.2' });
const desk = parsePeer('desk', { publicKey: KEY_B, address: '10.232.0.3' });

describe('usbip tunnel: the service runs its commands (real wg keys, recorded ip and wg set)', function () {
  this.timeout(30_000);
  let dir;
  let store;
  let lines;
  const logger = { info: (line) => lines.push(`info ${line}`), warn: (line) => lines.push(`warn ${line}`), error: (line) => lines.push(`error ${line}`), debug: () => undefined };
  const calls = async () => (await readFile(join(dir, 'calls'), 'utf8').catch(() => '')).trim().split('\n').filter((line) => line !== '');

  beforeEach(async function () {
    if (spawnSync('wg', ['--version']).status !== 0) this.skip(); // wireguard-tools: test/setup/install-host-deps.sh
    dir = await mkdtemp(join(tmpdir(), 'kvc-wgrun-'));
    lines = [];
    // ip: records; `ip link del` fails (no such device) unless the file "exists" is there.
    await writeFile(join(dir, 'ip'), `#!/bin/sh\necho "ip $*" >>${dir}/calls\nif [ "$1 $2" = "link del" ]; then [ -e ${dir}/exists ] || { echo 'Cannot find device "kvcwg"' >&2; exit 1; }; fi\nexit 0\n`);
    // wg: genkey and pubkey by the real one; set recorded.
    await writeFile(join(dir, 'wg'), `#!/bin/sh\nif [ "$1" = set ]; then echo "wg $*" >>${dir}/calls; exit 0; fi\nexec wg "$@"\n`);
    await chmod(join(dir, 'ip'), 0o755);
    await chmod(join(dir, 'wg'), 0o755);
    store = { dir: join(dir, 'store'), wg: join(dir, 'wg'), ip: join(dir, 'ip') };
  });

  it('start: the key made, the interface made with every peer; update: wg set alone, the removed peer by its key; down: deleted', async () => {
    const tunnel = await startTunnel(store, parseTunnel({ address: '10.232.0.1/24' }), [laptop, desk], logger);
    const key = privateKeyPath(store);
    expect(await calls()).to.deep.equal([
      'ip link del dev kvcwg',
      'ip link add dev kvcwg type wireguard',
      `wg set kvcwg listen-port 51820 private-key ${key} peer ${KEY_A} allowed-ips 10.232.0.2/32 peer ${KEY_B} allowed-ips 10.232.0.3/32`,
      'ip address add 10.232.0.1/24 dev kvcwg',
      'ip link set dev kvcwg up',
    ]);
    const secret = (await readFile(key, 'utf8')).trim();
    expect(lines).to.deep.equal([
      `info WireGuard: made this host's key (wg genkey; ${key}, root's only)`,
      `info WireGuard: kvcwg up, 10.232.0.1/24, UDP port 51820, this host's public key ${tunnel.publicKey}; peers: laptop (10.232.0.2), desk (10.232.0.3)`,
    ]);
    await tunnel.update([laptop, desk]);
    expect(await calls()).to.have.length(5);
    await tunnel.update([laptop]);
    expect((await calls())[5]).to.equal(`wg set kvcwg listen-port 51820 private-key ${key} peer ${KEY_B} remove peer ${KEY_A} allowed-ips 10.232.0.2/32`);
    expect(lines[2]).to.equal('info WireGuard: kvcwg\'s peers now: laptop (10.232.0.2) (1 taken off)');
    await writeFile(join(dir, 'exists'), '');
    await tunnel.down();
    expect((await calls())[6]).to.equal('ip link del dev kvcwg');
    expect(lines[3]).to.equal('info WireGuard: kvcwg taken down');
    expect([...await calls(), ...lines].join('\n')).not.to.contain(secret);
  });

  it('a kvcwg left by an earlier run is deleted first, and said', async () => {
    await writeFile(join(dir, 'exists'), '');
    await startTunnel(store, parseTunnel({ address: '10.232.0.1/24', port: '51821' }), [], logger);
    expect((await calls()).slice(0, 2)).to.deep.equal(['ip link del dev kvcwg', 'ip link add dev kvcwg type wireguard']);
    expect(lines).to.include('warn WireGuard: kvcwg was there already (left by an earlier run); made anew');
  });

  it('ip refusing the interface (no wireguard in the kernel) fails the start with its words and the remedy, and nothing is left', async () => {
    await writeFile(join(dir, 'ip'), `#!/bin/sh\necho "ip $*" >>${dir}/calls\nif [ "$1 $2" = "link add" ]; then echo 'Error: Unknown device type.' >&2; exit 2; fi\nif [ "$1 $2" = "link del" ]; then exit 1; fi\nexit 0\n`);
    const failed = await startTunnel(store, parseTunnel({ address: '10.232.0.1/24' }), [laptop], logger).then(() => undefined, (error) => error);
    expect(failed?.name).to.equal('WireGuardError');
    expect(failed.message).to.equal('ip link add dev … failed: Error: Unknown device type.');
    expect(failed.hint).to.match(/modprobe wireguard/);
    expect((await calls()).at(-1)).to.equal('ip link del dev kvcwg');
  });
});
