// Where the device list listens: loopback always, and the addresses the devices file's
// `[server] listen` names (an interface name: each of its addresses now). Never every address.
// Pure: the interfaces are given (os.networkInterfaces()).
import { isIP } from 'node:net';
import type { NetworkInterfaceInfo } from 'node:os';

// Always served: the host itself.
export const LOOPBACK = ['127.0.0.1', '::1'] as const;

// The addresses to listen on, each once, loopback first; the interface names that have none.
export function listenAddresses(listen: readonly string[], interfaces: Readonly<Record<string, readonly NetworkInterfaceInfo[] | undefined>>): { addresses: string[]; missing: string[] } {
  const addresses: string[] = [...LOOPBACK];
  const missing: string[] = [];
  const add = (address: string): void => {
    if (!addresses.includes(address)) addresses.push(address);
  };
  for (const word of listen) {
    if (isIP(word) !== 0) {
      add(word.toLowerCase());
      continue;
    }
    const found = (interfaces[word] ?? []).filter((info) => !info.internal || info.address !== '127.0.0.1');
    if (found.length === 0) missing.push(word);
    for (const info of found) add(info.family === 'IPv6' && info.address.toLowerCase().startsWith('fe80:') ? `${info.address}%${word}` : info.address);
  }
  return { addresses, missing };
}
