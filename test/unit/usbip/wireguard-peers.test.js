// Unit tests with the real wg (wireguard-tools): `kvc usbip peer add|list|remove` as a person runs
// it, on a state folder of the test's own: the host key made by wg genkey, root's only, its
// private half never printed; peers listed with their public keys and addresses; clashes refused.
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { tunnelUpCommands, parseTunnel } from '../../../lib/usbip/wireguard-plan.js';
import { hostKey, listPeers, privateKeyPath, storeDir } from '../../../lib/usbip/wireguard.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const KEY_A = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
const KEY_B = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';

describe('kvc usbip peer (real wg)', function () {
  this.timeout(30_000);
  let state;
  const kvc = (...args) => spawnSync(process.execPath, [join(ROOT, 'lib/cli/main.js'), '--config-dir', join(ROOT, 'host/etc/kvc'), 'usbip', 'peer', ...args], { env: { ...process.env, KVC_STATE_DIR: state }, encoding: 'utf8' });
  before(async function () {
    if (spawnSync('wg', ['--version']).status !== 0) this.skip(); // wireguard-tools: test/setup/install-host-deps.sh
    state = await mkdtemp(join(tmpdir(), 'kvc-wg-'));
  });

  it('add makes this host\'s key (wg genkey, 600 in a 700 folder) and prints only its public half', async () => {
    const added = kvc('add', 'laptop', '--address', '10.232.0.2', '--public-key', KEY_A);
    expect(added.status, added.stderr).to.equal(0);
    const dir = storeDir(state);
    const secret = (await readFile(privateKeyPath({ dir }), 'utf8')).trim();
    expect(secret).to.match(/^[A-Za-z0-9+/]{43}=$/);
    expect((await stat(dir)).mode & 0o777).to.equal(0o700);
    expect((await stat(privateKeyPath({ dir }))).mode & 0o777).to.equal(0o600);
    const pub = spawnSync('wg', ['pubkey'], { input: `${secret}\n`, encoding: 'utf8' }).stdout.trim();
    expect(added.stdout).to.contain(`added peer laptop: ${KEY_A}, address 10.232.0.2`);
    expect(added.stdout).to.contain(`this host's public key (give it to laptop): ${pub}`);
    expect(added.stdout + added.stderr).not.to.contain(secret);
    expect((await hostKey({ dir })).created).to.equal(false);
  });

  it('list shows the public keys and addresses; JSON too; never the private key', async () => {
    expect(kvc('add', 'desk', '--address', 'fd00:232::3', '--public-key', KEY_B, '--endpoint', '192.0.2.7:51820').status).to.equal(0);
    const listed = kvc('list');
    const secret = (await readFile(privateKeyPath({ dir: storeDir(state) }), 'utf8')).trim();
    expect(listed.stdout.split('\n').slice(1)).to.deep.equal([`desk\t${KEY_B}\tfd00:232::3\t192.0.2.7:51820`, `laptop\t${KEY_A}\t10.232.0.2`, '']);
    expect(listed.stdout).not.to.contain(secret);
    expect(JSON.parse(kvc('list', '--json').stdout).peers).to.deep.equal([
      { name: 'desk', publicKey: KEY_B, address: 'fd00:232::3', endpoint: '192.0.2.7:51820' },
      { name: 'laptop', publicKey: KEY_A, address: '10.232.0.2', endpoint: null },
    ]);
  });

  it('refuses a second peer with a name, key or address already taken, and a bad key', () => {
    const again = kvc('add', 'phone', '--address', '10.232.0.2', '--public-key', '9EaHZbTDfc69n7z0iwW35japsk16XwCGZWAHCUcRNSI=');
    expect(again.status).not.to.equal(0);
    expect(again.stderr).to.contain('peer laptop already has the address 10.232.0.2');
    expect(kvc('add', 'phone', '--address', '10.232.0.9', '--public-key', KEY_A).stderr).to.contain('already has that public key');
    expect(kvc('add', 'phone', '--address', '10.232.0.9', '--public-key', 'short').stderr).to.contain('not a WireGuard public key');
  });

  it('remove takes the peer off; the plan then renders the tunnel without it, with kvc\'s key path', async () => {
    expect(kvc('remove', 'desk').stdout).to.equal('removed peer desk\n');
    expect(kvc('remove', 'desk').status).not.to.equal(0);
    const peers = await listPeers({ dir: storeDir(state) });
    const keyPath = privateKeyPath({ dir: storeDir(state) });
    expect(tunnelUpCommands(parseTunnel({ address: '10.232.0.1/24' }), peers, { keyPath })[1]).to.deep.equal(['wg', 'set', 'kvcwg', 'listen-port', '51820', 'private-key', keyPath, 'peer', KEY_A, 'allowed-ips', '10.232.0.2/32']);
  });
});
