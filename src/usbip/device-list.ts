// The exporting side's device list for clients: what usbipd's own list lacks (serial numbers, and
// whether a device is imported already), read-only over HTTP, GET /v1/devices. It tells clients
// only what they need to pick the device they name; it changes nothing.
import { createServer, get, type Server } from 'node:http';
import type { RemoteDevice } from './import-plan.js';

export interface ListedDevice extends RemoteDevice {
  readonly name?: string | undefined;
}

const PATH = '/v1/devices';

export async function serveDeviceList(port: number, list: () => readonly ListedDevice[]): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.method !== 'GET' || request.url !== PATH) {
      response.writeHead(request.method === 'GET' ? 404 : 405, { 'content-type': 'text/plain' }).end(`only GET ${PATH}\n`);
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ devices: list() })}\n`);
  });
  server.requestTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => { server.off('error', reject); resolve(); });
  });
  return server;
}

// Asks a server for its list; undefined when kvc's list is not served there (plain usbipd) or
// does not answer within timeoutMs.
export function fetchDeviceList(host: string, port: number, timeoutMs = 10_000): Promise<ListedDevice[] | undefined> {
  const hostname = host.startsWith('[') ? host.slice(1, -1) : host;
  return new Promise((resolve) => {
    const request = get({ hostname, port, path: PATH, timeout: timeoutMs, headers: { accept: 'application/json' } }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { if (body.length < 1 << 20) body += chunk; });
      response.on('end', () => {
        if (response.statusCode !== 200) return resolve(undefined);
        try {
          const parsed = JSON.parse(body) as { devices?: unknown };
          resolve(Array.isArray(parsed.devices) ? parsed.devices.filter(isListedDevice) : undefined);
        } catch {
          resolve(undefined);
        }
      });
      response.on('error', () => resolve(undefined));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
  });
}

function isListedDevice(value: unknown): value is ListedDevice {
  if (typeof value !== 'object' || value === null) return false;
  const device = value as Record<string, unknown>;
  return typeof device['busid'] === 'string' && typeof device['vendor'] === 'string' && typeof device['product'] === 'string'
    && (device['serial'] === undefined || typeof device['serial'] === 'string');
}
