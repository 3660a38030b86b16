// The exporting side's device list for clients: what usbipd's own list lacks (serial numbers, and
// whether a device is imported already), read-only over HTTP, GET /v1/devices. It tells clients
// only what they need to pick the device they name; it changes nothing.
import { createServer, get, type Server } from 'node:http';
import type { RemoteDevice } from './import-plan.js';
import { BUSID, SERIAL } from './devices-file.js';

// One exported device as the device list (HTTP, port 3241) tells a client of it.
export interface ListedDevice extends RemoteDevice {
  readonly name?: string | undefined;
}

const PATH = '/v1/devices';
// Connections one address may hold at once, and how long one may stay silent.
export const MAX_PER_PEER = 4;
const IDLE_MS = 2000;

// Serves the list on host:port (one address: the caller names each it serves on, never all);
// `list` is asked with the peer's address, and answers with what that peer may see.
export async function serveDeviceList(port: number, list: (peer: string) => readonly ListedDevice[], host = '127.0.0.1'): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== PATH) {
      response.writeHead(request.method === 'GET' ? 404 : 405, { 'content-type': 'text/plain' }).end(`only GET ${PATH}\n`);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ devices: list(request.socket.remoteAddress ?? '') })}\n`);
  });
  // No peer may hold the list from the others (issue 25, item 5): a few connections each, and
  // an idle or slow one is closed within seconds.
  server.requestTimeout = 3000;
  server.headersTimeout = 2000;
  server.keepAliveTimeout = 1000;
  server.maxConnections = 64;
  const perPeer = new Map<string, number>();
  server.on('connection', (socket) => {
    const peer = socket.remoteAddress ?? '?';
    const open = perPeer.get(peer) ?? 0;
    if (open >= MAX_PER_PEER) {
      socket.destroy();
      return;
    }
    perPeer.set(peer, open + 1);
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    socket.once('close', () => {
      const left = (perPeer.get(peer) ?? 1) - 1;
      if (left <= 0) perPeer.delete(peer);
      else perPeer.set(peer, left);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  return server;
}

// Asks a server for its list; undefined when kvc's list is not served there (plain usbipd), does
// not answer whole within timeoutMs, is larger than 1 MiB, or is not a list of devices.
export function fetchDeviceList(host: string, port: number, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<ListedDevice[] | undefined> {
  const hostname = host.startsWith('[') ? host.slice(1, -1) : host;
  return new Promise((resolve) => {
    let settled = false;
    const done = (value: ListedDevice[] | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      options.signal?.removeEventListener('abort', stop);
      request.destroy();
      resolve(value);
    };
    const stop = (): void => done(undefined);
    const request = get({ hostname, port, path: PATH, headers: { accept: 'application/json' } }, (response) => {
      if (response.statusCode !== 200) return done(undefined);
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
        if (body.length > MAX_BODY) done(undefined);
      });
      response.on('end', () => {
        try {
          const parsed = JSON.parse(body) as { devices?: unknown };
          done(Array.isArray(parsed.devices) ? parsed.devices.slice(0, MAX_DEVICES).filter(isListedDevice) : undefined);
        } catch {
          done(undefined);
        }
      });
      response.on('error', stop);
    });
    const deadline = setTimeout(stop, options.timeoutMs ?? 10_000);
    options.signal?.addEventListener('abort', stop, { once: true });
    request.on('error', stop);
  });
}

const MAX_BODY = 1 << 20;
const MAX_DEVICES = 256;

// Only what a USB device can be: a port path, four hex digits each, a printable serial, a known
// state (a server's list is not trusted to be well-formed: it reaches the journal and status).
function isListedDevice(value: unknown): value is ListedDevice {
  if (typeof value !== 'object' || value === null) return false;
  const device = value as Record<string, unknown>;
  const hex = (field: unknown): boolean => typeof field === 'string' && /^[0-9a-f]{4}$/.test(field);
  return typeof device['busid'] === 'string' && BUSID.test(device['busid']) && hex(device['vendor']) && hex(device['product'])
    && (device['serial'] === undefined || (typeof device['serial'] === 'string' && SERIAL.test(device['serial'])))
    && (device['state'] === undefined || device['state'] === 'available' || device['state'] === 'used' || device['state'] === 'error');
}
