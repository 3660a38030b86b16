// The service's WireGuard tunnel (issue 23): while kvc@INSTANCE runs with a [tunnel] in its devices
// file, the interface kvcwg carries this host's key and every peer kvc knows; it is made at start
// (one left by an earlier run is taken away first), given the peers anew when they change, and
// deleted when the service stops. The commands are wireguard-plan.ts's; this only runs and logs them.
import type { Logger } from '../log/logger.js';
import { describePeers, peersChange, TUNNEL_INTERFACE, tunnelDownCommands, tunnelUpCommands, type TunnelPeer, type TunnelSetting } from './wireguard-plan.js';
import type { TunnelState } from './devices-state.js';
import { hostKey, privateKeyPath, runTunnelCommands, type WireGuardStore } from './wireguard.js';

// The running tunnel: its peers replaced, or the interface taken down.
export interface RunningTunnel {
  readonly publicKey: string;
  // The peers kvcwg carries now.
  peers(): readonly TunnelPeer[];
  update(peers: readonly TunnelPeer[]): Promise<void>;
  down(): Promise<void>;
}

// Brings kvcwg up with `peers`; throws WireGuardError (with what to install or load) when wg or
// ip fails, after taking away what it made.
export async function startTunnel(store: WireGuardStore, setting: TunnelSetting, peers: readonly TunnelPeer[], logger: Logger): Promise<RunningTunnel> {
  const own = await hostKey(store);
  if (own.created) logger.info(`WireGuard: made this host's key (wg genkey; ${privateKeyPath(store)}, root's only)`);
  const leftover = await runTunnelCommands(store, tunnelDownCommands()).then(() => true, () => false);
  if (leftover) logger.warn(`WireGuard: ${TUNNEL_INTERFACE} was there already (left by an earlier run); made anew`);
  try {
    await runTunnelCommands(store, tunnelUpCommands(setting, peers, { keyPath: privateKeyPath(store) }));
  } catch (error) {
    await runTunnelCommands(store, tunnelDownCommands()).catch(() => undefined);
    throw error;
  }
  logger.info(`WireGuard: ${TUNNEL_INTERFACE} up, ${setting.address}, UDP port ${setting.listenPort}, this host's public key ${own.publicKey}; peers: ${describePeers(peers)}`);
  let running = [...peers];
  return {
    publicKey: own.publicKey,
    peers: () => running,
    update: async (next) => {
      const change = peersChange(running, next);
      if (!change.changed) return;
      await runTunnelCommands(store, tunnelUpCommands(setting, next, { exists: true, removed: change.removed, keyPath: privateKeyPath(store) }));
      running = [...next];
      logger.info(`WireGuard: ${TUNNEL_INTERFACE}'s peers now: ${describePeers(next)}${change.removed.length === 0 ? '' : ` (${change.removed.length} taken off)`}`);
    },
    down: async () => {
      await runTunnelCommands(store, tunnelDownCommands()).then(
        () => logger.info(`WireGuard: ${TUNNEL_INTERFACE} taken down`),
        (error: unknown) => logger.warn(`WireGuard: cannot take ${TUNNEL_INTERFACE} down: ${(error as Error).message}; ip link del dev ${TUNNEL_INTERFACE} does it`),
      );
    },
  };
}

// What `kvc status` is told of the running tunnel.
export function tunnelState(setting: TunnelSetting, tunnel: RunningTunnel): TunnelState {
  return {
    interface: TUNNEL_INTERFACE,
    address: setting.address,
    port: setting.listenPort,
    publicKey: tunnel.publicKey,
    peers: tunnel.peers().map((peer) => ({ name: peer.name, address: peer.address.text, endpoint: peer.endpoint ?? null })),
  };
}
