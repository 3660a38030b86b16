// The exports' guard on this host: kvc's nftables table put in place before usbipd and the device
// list start, made anew when they start again with other exports, and taken away when they stop.
import type { Logger } from '../log/logger.js';
import type { ExportRule } from './devices-file.js';
import { guardedNetworks, renderRuleset, TABLE } from './firewall-plan.js';
import { applyRuleset } from './nft.js';
import { admittedPeers, describePeers, renderTunnelRuleset, TUNNEL_INTERFACE, type TunnelPeer } from './wireguard-plan.js';

// How nft is run (tests: in a network namespace), and the tunnel's peers when there is a tunnel.
export interface FirewallOptions {
  readonly nft?: readonly string[];
  readonly logger: Logger;
  // With a [tunnel]: the ports are admitted on kvcwg only, from the peers the exports name.
  readonly tunnel?: { readonly peers: readonly TunnelPeer[] };
}

// Applies the guard for `rules` on `ports`; throws FirewallError (nothing is exported unguarded).
// The result's remove() deletes kvc's table (a failure is logged: the ports stay closed).
export async function guardExports(rules: readonly ExportRule[], ports: readonly number[], options: FirewallOptions): Promise<{ remove(): Promise<void> }> {
  const { logger } = options;
  const nets = guardedNetworks(rules);
  const nft = options.nft === undefined ? {} : { nft: options.nft };
  const open = ports.filter((port) => port > 0).join(', ');
  const removal = {
    remove: async () => {
      await applyRuleset(renderRuleset([], ports), nft).then(
        () => logger.info(`USB/IP: nftables table ${TABLE} removed (no exports served)`),
        (error: unknown) => logger.warn(`USB/IP: cannot remove nftables table ${TABLE}: ${(error as Error).message}; TCP ${open} stays closed to strangers`),
      );
    },
  };
  if (options.tunnel !== undefined) {
    await applyRuleset(renderTunnelRuleset(rules, options.tunnel.peers, ports), nft);
    const admitted = admittedPeers(rules, options.tunnel.peers);
    logger.info(`USB/IP guarded by nftables (table ${TABLE}): TCP ${open} only through WireGuard (${TUNNEL_INTERFACE}) from the peers ${describePeers(admitted)}, and loopback; the plain network and everyone else are dropped and logged (journalctl -k)`);
    return removal;
  }
  if (nets === undefined) {
    // Nothing to guard: a table left by an earlier run with a narrower list would only mislead.
    await applyRuleset(renderRuleset([], ports), nft).catch(() => undefined);
    logger.warn(`USB/IP: an export is open to any client (clients = any): TCP ${open} is not guarded; anyone who reaches this host can list and attach`);
    return { remove: async () => undefined };
  }
  await applyRuleset(renderRuleset(rules, ports), nft);
  const who = [...nets.v4, ...nets.v6].map((net) => net.text).join(', ');
  logger.info(`USB/IP guarded by nftables (table ${TABLE}): TCP ${open} from ${who || 'no address'} and loopback only; others are dropped and logged (journalctl -k)`);
  return removal;
}
