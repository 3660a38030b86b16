// `kvc usbip peer add|list|remove`: the WireGuard peers of USB/IP's encrypted transport (issue
// 23). This host's key is made by wg genkey on the first add (root's only; never printed); add and
// list print its public key, to give to the peers.
import type { Command } from 'commander';
import { addPeer, hostKey, listPeers, removePeer, storeDir, WireGuardError, type WireGuardStore } from '../../usbip/wireguard.js';
import type { Session } from '../../ops/session.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// `kvc usbip`'s help.
export const USBIP_HELP: CommandHelp = {
  summary: 'USB/IP settings kvc keeps: the WireGuard peers of the encrypted transport',
  description: 'USB/IP sends devices\' traffic in clear. kvc keeps this host\'s WireGuard key and the peers kvc usbip peer add names, for a tunnel that carries USB/IP. '
    + 'With a [tunnel] section in the devices file, kvc@INSTANCE brings that tunnel up (interface kvcwg, every peer added here), admits USB/IP only through it from the peers the exports\' clients name (clients = NAME), and takes a peer added or removed here over without a restart: see docs/usbip-access.md.',
  examples: ['kvc usbip peer add laptop --address 10.232.0.2 --public-key …', 'kvc usbip peer list'],
};

// `kvc usbip peer`'s help.
export const USBIP_PEER_HELP: CommandHelp = {
  summary: 'add, list or remove the WireGuard peers USB/IP may talk to',
  description: 'Each peer is a name, its WireGuard public key and its one address in the tunnel (and, for the side that starts, its endpoint). '
    + 'This host\'s own key is made with wg genkey the first time, root\'s only (600) under /var/lib/kvc/usbip/wireguard; its public key is printed, never the private one.',
  examples: ['kvc usbip peer add laptop --address 10.232.0.2 --public-key yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=', 'kvc usbip peer list', 'kvc usbip peer remove laptop'],
};

// `kvc usbip peer add`'s help.
export const USBIP_PEER_ADD_HELP: CommandHelp = {
  summary: 'add a peer: its name, WireGuard public key and one address in the tunnel (this host\'s key made first if there is none)',
  description: 'Writes the peer under /var/lib/kvc/usbip/wireguard/peers (root\'s only) and prints this host\'s public key to give to the peer. '
    + 'A name, public key or address another peer has is refused.',
  examples: ['kvc usbip peer add laptop --address 10.232.0.2 --public-key yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=', 'kvc usbip peer add server --address 10.232.0.1 --public-key … --endpoint 192.0.2.7:51820'],
};

// `kvc usbip peer list`'s help.
export const USBIP_PEER_LIST_HELP: CommandHelp = {
  summary: 'this host\'s public key, then each peer: name, public key, address, endpoint',
  description: 'Never prints a private key. Makes this host\'s key first if there is none (wg genkey).',
  examples: ['kvc usbip peer list', 'kvc usbip peer list --json'],
};

// `kvc usbip peer remove`'s help.
export const USBIP_PEER_REMOVE_HELP: CommandHelp = {
  summary: 'remove a peer by name',
  description: 'Deletes the peer\'s file; the service drops it from the tunnel and the firewall when it applies its settings again.',
  examples: ['kvc usbip peer remove laptop'],
};

function store(session: Session): WireGuardStore {
  return { dir: storeDir(session.ctx.stateDir ?? '/var/lib/kvc') };
}

// Adds `kvc usbip peer` and its subcommands to the program.
export function registerUsbipPeer(program: Command, outcome: Outcome): void {
  const usbip = describeCommand(program.command('usbip'), USBIP_HELP);
  const peer = describeCommand(usbip.command('peer'), USBIP_PEER_HELP);

  describeCommand(peer.command('add').argument('<name>', 'the peer\'s name (what clients = NAME names)'), USBIP_PEER_ADD_HELP)
    .requiredOption('--public-key <key>', 'the peer\'s WireGuard public key (wg pubkey on the peer)')
    .requiredOption('--address <address>', 'the peer\'s one address in the tunnel (10.232.0.2)')
    .option('--endpoint <host:port>', 'where to reach the peer first (the importer names its exporter)')
    .action(withSession(outcome, async (session, name: string, options: { publicKey: string; address: string; endpoint?: string }) => {
      const own = await hostKey(store(session));
      const added = await addPeer(store(session), name, options);
      if (own.created) process.stdout.write(`made this host's WireGuard key (wg genkey; ${store(session).dir}/private.key, root's only)\n`);
      process.stdout.write(`added peer ${added.name}: ${added.publicKey}, address ${added.address.text}${added.endpoint === undefined ? '' : `, endpoint ${added.endpoint}`}\n`);
      process.stdout.write(`this host's public key (give it to ${added.name}): ${own.publicKey}\n`);
    }, { dryRun: { refuse: 'it writes keys and peers; kvc usbip peer list shows them' } }));

  describeCommand(peer.command('list'), USBIP_PEER_LIST_HELP)
    .option('--json', 'print JSON (stable field names)')
    .action(withSession(outcome, async (session, options: { json?: boolean }) => {
      const own = await hostKey(store(session));
      const peers = (await listPeers(store(session))).map((each) => ({ name: each.name, publicKey: each.publicKey, address: each.address.text, endpoint: each.endpoint ?? null }));
      if (options.json === true) {
        process.stdout.write(`${JSON.stringify({ publicKey: own.publicKey, peers }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`this host: ${own.publicKey}\n`);
      for (const each of peers) process.stdout.write(`${each.name}\t${each.publicKey}\t${each.address}${each.endpoint === null ? '' : `\t${each.endpoint}`}\n`);
    }, { dryRun: { refuse: 'it may make this host\'s key' } }));

  describeCommand(peer.command('remove').argument('<name>', 'the peer\'s name'), USBIP_PEER_REMOVE_HELP)
    .action(withSession(outcome, async (session, name: string) => {
      if (!(await removePeer(store(session), name))) throw new WireGuardError(`no peer named ${name}`, { hint: 'kvc usbip peer list names them' });
      process.stdout.write(`removed peer ${name}\n`);
    }, { dryRun: { refuse: 'it removes a peer' } }));
}
