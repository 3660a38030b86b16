// The devices file's [tunnel] section, checked at the edge (wireguard-plan.ts renders what the
// service runs from it). Apart from the plan, so that the devices file's parser needs no more of it.
import { parseClients } from './clients.js';

// This host's end of the tunnel: its address in the tunnel (CIDR) and the UDP port it listens on.
export interface TunnelSetting {
  readonly address: string;
  readonly listenPort: number;
}

// A tunnel or peer setting that cannot be used, and why.
export class TunnelSettingError extends Error {}

// Checks the [tunnel] section's fields; returns the setting.
export function parseTunnel(fields: { address: string; port?: string | undefined }): TunnelSetting {
  const match = /^([0-9a-fA-F.:]+)\/([0-9]{1,3})$/.exec(fields.address);
  const clients = match === null ? undefined : (() => { try { return parseClients(match[1]!); } catch { return undefined; } })();
  const prefix = match === null ? NaN : Number(match[2]);
  const family = clients?.kind === 'list' && clients.entries[0]?.kind === 'net' ? clients.entries[0].family : undefined;
  if (family === undefined || !(prefix >= 1 && prefix <= (family === 4 ? 32 : 128))) {
    throw new TunnelSettingError(`[tunnel] address must be this host's address in the tunnel with its prefix (10.232.0.1/24), not ${JSON.stringify(fields.address)}`);
  }
  const listenPort = fields.port === undefined ? 51820 : Number(fields.port);
  if (!/^[0-9]{1,5}$/.test(fields.port ?? '51820') || listenPort < 1 || listenPort > 65535) throw new TunnelSettingError(`[tunnel] port must be a UDP port (1-65535), not ${JSON.stringify(fields.port)}`);
  return { address: fields.address, listenPort };
}
