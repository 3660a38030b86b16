// USB/IP's devices file (<config-dir>/<instance>.devices, beside its .conf): which local devices
// this host exports and which remote ones it imports. Read and validated once, here; everything
// else works from the typed result.
//
//   [export.disk-a]            a device this host exports: by VID:PID, VID:PID and serial, or port
//   device = 46f4:0001
//   serial = KVC-DISK-A
//   clients = 10.77.0.2, 10.77.1.0/24   who may list and attach it (required; `any` on purpose)
//
//   [import.disk-a]            a device this host imports from a server, kept attached
//   server = 10.77.0.1
//   device = 46f4:0001
//   serial = KVC-DISK-A
//   container = web            (optional: attached for that container only)
//
//   [server]                   (optional) what the exporting side listens on
//   metadata-port = 3241
//   listen = 10.77.0.1, eth1   where the device list is served besides loopback: addresses or
//                              interface names (default: loopback only)
//
//   [tunnel]                   (optional) USB/IP only through WireGuard (wireguard-plan.ts); the
//   address = 10.232.0.1/24    exports' clients may then name peers (kvc usbip peer add NAME)
//   port = 51820
import { isIP } from 'node:net';
import { readConfigText } from '../config/conf-file.js';
import { parse } from 'ini';
import { ConfigError } from '../errors.js';
import { ConfigProblems } from '../config/problems.js';
import { closest } from '../config/did-you-mean.js';
import { ClientsSyntaxError, parseClients, type Clients } from './clients.js';
import { DEVICES_FILE_SECTIONS, sectionKeys } from './devices-file-keys.js';
import { parseTunnel, TunnelSettingError, type TunnelSetting } from './tunnel-setting.js';

// How a device is named: by its port path (bus id), or by VID:PID with an optional serial.
export type DeviceMatch =
  | { readonly kind: 'busid'; readonly busid: string }
  | { readonly kind: 'id'; readonly vendor: string; readonly product: string; readonly serial: string | undefined };

// An [export.NAME] section: the device this host exports, and who may attach it.
export interface ExportRule {
  readonly name: string;
  readonly match: DeviceMatch;
  readonly clients: Clients;
}

// An [import.NAME] section: the device this host imports from a server, and for whom.
export interface ImportRule {
  readonly name: string;
  readonly server: string;
  readonly port: number;
  readonly match: DeviceMatch;
  readonly container: string | undefined;
  // Where the server serves kvc's device list (serial numbers, states); 0: do not ask.
  readonly listPort: number;
}

// The whole devices file, validated.
export interface DevicesConfig {
  readonly path: string;
  readonly exports: readonly ExportRule[];
  readonly imports: readonly ImportRule[];
  // The exporting side's read-only device list (serials, states) for clients; 0: none served.
  readonly metadataPort: number;
  // Where the device list listens besides loopback: addresses and interface names, as written.
  readonly listen: readonly string[];
  // [tunnel]: USB/IP through WireGuard, brought up by the service; undefined: plain TCP.
  readonly tunnel: TunnelSetting | undefined;
}

// usbipd's TCP port.
export const USBIP_PORT = 3240;
// The device list's TCP port (kvc's own), unless [server] metadata-port says otherwise.
export const METADATA_PORT = 3241;

const SECTION_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const VID_PID = /^([0-9a-fA-F]{4}):([0-9a-fA-F]{4})$/;
// A port path as the kernel names USB devices: bus-port[.port…].
export const BUSID = /^[0-9]{1,3}-[0-9]{1,3}(\.[0-9]{1,3}){0,6}$/;
// Serial numbers are the device's own string descriptor: printable, no spaces at the ends.
export const SERIAL = /^[\x21-\x7e]([\x20-\x7e]{0,125}[\x21-\x7e])?$/;
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$|^\[[0-9a-fA-F:.]+\]$/;
const CONTAINER = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/;

const EXPORT_KEYS = sectionKeys('export');
const IMPORT_KEYS = sectionKeys('import');
const SERVER_KEYS = sectionKeys('server');
const TUNNEL_KEYS = sectionKeys('tunnel');
const INTERFACE = /^[A-Za-z0-9_.-]{1,15}$/;
const SECTIONS = Object.keys(DEVICES_FILE_SECTIONS);

// Reads the file; undefined when there is none (the instance manages no devices).
export async function readDevicesFile(path: string): Promise<DevicesConfig | undefined> {
  // As the .conf files are read: trusted, regular and small, checked before it is read.
  const text = await readConfigText(path, true);
  return text === undefined ? undefined : parseDevicesFile(path, text);
}

// Validates the file's text; throws every fault at once (a ConfigErrors when there are several),
// each naming its line, section and key, with a did-you-mean for a misspelled section or key.
export function parseDevicesFile(path: string, text: string): DevicesConfig {
  const lines = devicesFileLines(text);
  const problems = new ConfigProblems((where) => lines.get(where) ?? lines.get(where.split(' ')[0] as string));
  const fail = (where: string, problem: string, hint: string): never => {
    throw new ConfigError(path, where, problem, { hint });
  };
  const headers = new Set<string>();
  for (const [index, line] of text.split('\n').entries()) {
    if (!line.trimStart().startsWith('[')) continue;
    problems.attempt(() => {
      const header = /^\s*\[([^\]]*)\]\s*$/.exec(line);
      if (header === null) throw new ConfigError(path, undefined, `${JSON.stringify(line.trim())} is not a section header alone on its line`, { hint: 'write [export.NAME], [import.NAME] or [server] with nothing after it (a comment goes on a line of its own)', line: index + 1 });
      if (headers.has(header[1]!)) throw new ConfigError(path, `[${header[1]}]`, 'is given twice', { hint: 'name each device once (a second section of one name would silently merge into the first)', line: index + 1 });
      headers.add(header[1]!);
    });
  }
  // Past a broken header, ini would read what follows into the section before: nothing more to check.
  if (problems.any) problems.throwIfAny();
  const top = parse(text) as Record<string, unknown>;
  const exports: ExportRule[] = [];
  const imports: ImportRule[] = [];
  let metadataPort = METADATA_PORT;
  let listen: string[] = [];
  let tunnel: TunnelSetting | undefined;
  // Peer names in clients are read only where there is a tunnel to reach the peers through.
  const tunnelled = typeof top['tunnel'] === 'object' && top['tunnel'] !== null;
  for (const [section, value] of Object.entries(top)) {
    if (typeof value !== 'object' || value === null) {
      problems.add(new ConfigError(path, section, 'is a key outside any section', { hint: 'put each key under [export.NAME], [import.NAME] or [server]' }));
      continue;
    }
    const body = value as Record<string, unknown>;
    if (section === 'server') {
      const keys = flatKeys(path, '[server]', body, SERVER_KEYS, problems) ?? {};
      if (keys['listen'] !== undefined) listen = problems.attempt(() => parseListen(keys['listen']!, (problem) => fail('[server] listen', problem, 'write listen = 10.77.0.1 or listen = eth1 (addresses or interface names, comma-separated); loopback is always served'))) ?? listen;
      if (keys['metadata-port'] !== undefined) metadataPort = problems.attempt(() => parsePort(keys['metadata-port']!, (problem) => fail('[server] metadata-port', problem, 'a TCP port 1-65535, or 0 to serve no device list'), true)) ?? metadataPort;
      continue;
    }
    if (section === 'tunnel') {
      const keys = flatKeys(path, '[tunnel]', body, TUNNEL_KEYS, problems);
      if (keys === undefined) continue;
      tunnel = problems.attempt(() => {
        if (keys['address'] === undefined) fail('[tunnel]', 'names no address', 'add address = 10.232.0.1/24 (this host\'s address in the tunnel, with its prefix)');
        try {
          return parseTunnel({ address: keys['address']!, port: keys['port'] });
        } catch (error) {
          if (!(error instanceof TunnelSettingError)) throw error;
          const key = error.message.startsWith('[tunnel] port') ? 'port' : 'address';
          return fail(`[tunnel] ${key}`, error.message.replace(/^\[tunnel\] /, ''), key === 'port' ? 'write port = 51820 (a UDP port), or leave it out' : 'write address = 10.232.0.1/24');
        }
      });
      continue;
    }
    if (section !== 'export' && section !== 'import') {
      const meant = closest(section, SECTIONS);
      const devices = Object.entries(body).filter(([, entry]) => typeof entry === 'object' && entry !== null).map(([name]) => `.${name}`);
      for (const device of devices.length === 0 ? [''] : devices) {
        const suggestion = meant === undefined ? '' : ` (did you mean [${meant}${meant === 'server' || meant === 'tunnel' ? '' : device}]?)`;
        problems.add(new ConfigError(path, `[${section}${device}]`, `is not a section kvc knows${suggestion}`, { hint: 'sections are [export.NAME], [import.NAME], [server] and [tunnel]' }));
      }
      continue;
    }
    for (const [name, entry] of Object.entries(body)) {
      const where = `[${section}.${name}]`;
      if (!SECTION_NAME.test(name)) problems.add(new ConfigError(path, where, `${JSON.stringify(name)} is not a device name`, { hint: 'name devices with letters, digits, "_" and "-", e.g. [export.disk-a]' }));
      if (typeof entry !== 'object' || entry === null) {
        problems.add(new ConfigError(path, where, 'is a key, not a section', { hint: `write the section header [${section}.NAME] and its keys below it` }));
        continue;
      }
      if (section === 'export') {
        const keys = flatKeys(path, where, entry as Record<string, unknown>, EXPORT_KEYS, problems);
        // A section with a faulty key would also be reported as missing it.
        if (keys === undefined) continue;
        const match = problems.attempt(() => matchOf(keys['device'], keys['serial'], keys['port'], 'port', (key, problem, hint) => fail(`${where} ${key}`, problem, hint)));
        const clients = problems.attempt(() => clientsOf(keys['clients'], tunnelled, (problem, hint) => fail(keys['clients'] === undefined ? where : `${where} clients`, problem, hint)));
        if (match !== undefined && clients !== undefined) exports.push({ name, match, clients });
      } else {
        const keys = flatKeys(path, where, entry as Record<string, unknown>, IMPORT_KEYS, problems);
        if (keys === undefined) continue;
        const server = problems.attempt(() => {
          const serverValue = keys['server'];
          if (serverValue === undefined) fail(where, 'names no server', 'add server = HOST (or HOST:PORT) of the host that exports it');
          return parseServer(serverValue as string, (problem) => fail(`${where} server`, problem, 'write server = 10.0.0.5, server = usb-host.example or server = 10.0.0.5:3240'));
        });
        const container = keys['container'];
        if (container !== undefined && !CONTAINER.test(container)) problems.add(new ConfigError(path, `${where} container`, `${JSON.stringify(container)} is not a container name`, { hint: 'give the name podman knows it by (podman ps --format {{.Names}})' }));
        const listPort = keys['list-port'] === undefined ? METADATA_PORT : problems.attempt(() => parsePort(keys['list-port']!, (problem) => fail(`${where} list-port`, problem, 'the TCP port of the server\'s kvc device list (its [server] metadata-port, default 3241), or 0 not to ask for it'), true));
        const match = problems.attempt(() => matchOf(keys['device'], keys['serial'], keys['busid'], 'busid', (key, problem, hint) => fail(`${where} ${key}`, problem, hint)));
        if (server !== undefined && listPort !== undefined && match !== undefined) imports.push({ name, server: server.host, port: server.port, match, container, listPort });
      }
    }
  }
  const seen = new Map<string, string>();
  for (const rule of imports) {
    if (rule.match.kind !== 'busid' && rule.match.serial === undefined) continue;
    const key = `${rule.server}:${rule.port}/${describeMatch(rule.match)}`;
    const other = seen.get(key);
    if (other !== undefined) problems.add(new ConfigError(path, `[import.${rule.name}]`, `names the same device as [import.${other}]`, { hint: 'import each device once: a second attach of one device is refused anyway' }));
    seen.set(key, rule.name);
  }
  problems.throwIfAny();
  return { path, exports, imports, metadataPort, listen, tunnel };
}

// An export's clients: required (an export open to all is written `clients = any`); WireGuard
// peer names only where the file has a [tunnel] (whether kvc knows the peer is checked at start:
// the peers are kvc's state, not this file's).
function clientsOf(value: string | undefined, tunnelled: boolean, fail: (problem: string, hint: string) => never): Clients {
  if (value === undefined) fail('names no clients: anyone who reaches this host could attach it', 'add clients = ADDRESS, CIDR… (e.g. clients = 10.77.0.2, 10.77.1.0/24), or clients = any to let anyone attach it on purpose');
  let clients: Clients;
  try {
    clients = parseClients(value!);
  } catch (error) {
    if (!(error instanceof ClientsSyntaxError)) throw error;
    return fail(error.problem, error.hint);
  }
  const peer = clients.kind === 'list' ? clients.entries.find((entry) => entry.kind === 'peer') : undefined;
  if (peer !== undefined && !tunnelled) fail(`names the WireGuard peer ${JSON.stringify(peer.name)}, and this file has no [tunnel]`, 'add a [tunnel] section (address = 10.232.0.1/24) for USB/IP through WireGuard, or name the client by its address or CIDR block');
  return clients;
}

function parseListen(value: string, fail: (problem: string) => never): string[] {
  const words = value.split(/[\s,]+/).filter((word) => word !== '');
  for (const word of words) {
    if (isIP(word) === 0 && !INTERFACE.test(word)) fail(`${JSON.stringify(word)} is not an address or an interface name`);
    if (word === '0.0.0.0' || word === '::') fail(`${word} would serve the list on every address`);
  }
  return words;
}

// Where each section and key is, as the faults name them: "[export.a]" (its header), "[export]"
// (the first header of that kind), "[export.a] device", and a key outside any section by its name.
// The first occurrence wins. Pure.
export function devicesFileLines(text: string): Map<string, number> {
  const lines = new Map<string, number>();
  const note = (where: string, line: number): void => {
    if (!lines.has(where)) lines.set(where, line);
  };
  let section: string | undefined;
  for (const [index, line] of text.split('\n').entries()) {
    const header = /^\s*\[([^\]]*)\]/.exec(line);
    if (header !== null) {
      section = `[${header[1]!.trim()}]`;
      note(section, index + 1);
      note(`[${header[1]!.trim().split('.')[0]}]`, index + 1);
      continue;
    }
    const key = /^\s*([^=;#\s][^=]*?)\s*(?:\[\])?\s*=/.exec(line);
    if (key !== null) note(section === undefined ? key[1]! : `${section} ${key[1]}`, index + 1);
  }
  return lines;
}

// A section's keys: only the known ones, each a single string; every other is a fault, pointed at
// the key it most likely meant. Undefined when there was a fault.
function flatKeys<K extends string>(path: string, where: string, body: Record<string, unknown>, known: readonly K[], problems: ConfigProblems): Partial<Record<K, string>> | undefined {
  const out: Partial<Record<K, string>> = {};
  let faulty = false;
  for (const [key, value] of Object.entries(body)) {
    if (!(known as readonly string[]).includes(key)) {
      const meant = closest(key, known);
      problems.add(new ConfigError(path, `${where} ${key}`, `is not a key of this section${meant === undefined ? '' : ` (did you mean ${meant}?)`}`, { hint: `keys here: ${known.join(', ')}` }));
      faulty = true;
    } else if (typeof value !== 'string') {
      problems.add(new ConfigError(path, `${where} ${key}`, 'must be one value', { hint: `write ${key} = VALUE once` }));
      faulty = true;
    } else {
      out[key as K] = value.trim();
    }
  }
  return faulty ? undefined : out;
}

function matchOf(
  device: string | undefined,
  serial: string | undefined,
  busid: string | undefined,
  busidKey: string,
  fail: (key: string, problem: string, hint: string) => never,
): DeviceMatch {
  if (busid !== undefined) {
    if (device !== undefined || serial !== undefined) fail(busidKey, `names the device by ${busidKey} and also by device/serial`, `use either ${busidKey} = 1-1 or device = VID:PID (with serial = …)`);
    if (!BUSID.test(busid)) fail(busidKey, `${JSON.stringify(busid)} is not a USB port path`, `write e.g. ${busidKey} = 1-1 or ${busidKey} = 1-1.2 (usbip list -l shows them)`);
    return { kind: 'busid', busid };
  }
  if (device === undefined) fail('device', 'is missing', `name the device: device = VID:PID (lsusb shows them), with serial = … to pick one of several, or ${busidKey} = 1-1`);
  const id = VID_PID.exec(device as string);
  if (id === null) fail('device', `${JSON.stringify(device)} is not VID:PID`, 'write e.g. device = 46f4:0001 (four hex digits each, as lsusb shows)');
  if (serial !== undefined && !SERIAL.test(serial)) fail('serial', `${JSON.stringify(serial)} is not a serial number`, 'printable characters, as `lsusb -v` shows iSerial');
  return { kind: 'id', vendor: id![1]!.toLowerCase(), product: id![2]!.toLowerCase(), serial };
}

function parsePort(value: string, fail: (problem: string) => never, zeroAllowed = false): number {
  if (!/^[0-9]{1,5}$/.test(value)) fail(`${JSON.stringify(value)} is not a port number`);
  const port = Number(value);
  if (port > 65535 || (port === 0 && !zeroAllowed)) fail(`${port} is not a TCP port`);
  return port;
}

function parseServer(value: string, fail: (problem: string) => never): { host: string; port: number } {
  const bracketed = /^(\[[^\]]+\])(?::([0-9]+))?$/.exec(value);
  const plain = /^([^:]+)(?::([0-9]+))?$/.exec(value);
  const found = bracketed ?? plain;
  if (found === null || !HOST.test(found[1]!)) fail(`${JSON.stringify(value)} is not a host name or address`);
  return { host: found![1]!.toLowerCase(), port: found![2] === undefined ? USBIP_PORT : parsePort(found![2], fail) };
}

// How a rule reads in the journal and in status: "46f4:0001 serial KVC-DISK-A", "port 1-1".
export function describeMatch(match: DeviceMatch): string {
  if (match.kind === 'busid') return `bus id ${match.busid}`;
  return `${match.vendor}:${match.product}${match.serial === undefined ? '' : ` serial ${match.serial}`}`;
}
