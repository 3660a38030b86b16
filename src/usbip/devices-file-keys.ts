// The sections and keys of USB/IP's devices file (<config-dir>/<instance>.devices), each with its
// documentation: the parser (devices-file.ts) knows these keys and no others, and the manual page
// kvc-devices(5) is printed from them (scripts/gen-docs.mjs).

// A section of the devices file: how its header is written, what it is for, its keys in order.
export interface DevicesFileSection {
  readonly header: string;
  readonly text: string;
  readonly keys: Readonly<Record<string, string>>;
}

// Every section and key, in the order the parser reports them.
export const DEVICES_FILE_SECTIONS = {
  export: {
    header: '[export.NAME]',
    text: 'A device this host exports, bound to usbip-host whenever it is plugged in (at start, after a replug, after a reboot). Nothing that no [export.*] section names is ever exported; a device bound to usbip-host by hand is given back to its driver. Name it by device (with serial to pick one of several) or by port.',
    keys: {
      device: 'VID:PID, four hex digits each, as lsusb shows them. Without serial, every device of that VID:PID is exported.',
      serial: 'Optional, with device: only the device with this serial number (printable characters, as lsusb -v shows iSerial).',
      port: 'Instead of device and serial: a port path (bus id, e.g. 1-1.2); whatever is plugged in there is exported.',
      clients: 'Required: who may list and attach it: addresses and CIDR blocks (IPv4, IPv6), comma-separated, e.g. 10.77.0.2, 10.77.1.0/24; WireGuard peer names where there is a [tunnel]; or any, written on purpose, for anyone who reaches this host. Enforced by the kernel (kvc\'s nftables table inet kvc_usbip), by the device list and by the exporter (docs/usbip-access.md).',
    },
  },
  import: {
    header: '[import.NAME]',
    text: 'A device this host imports from a server and keeps attached: attached once the server exports it, attached again when the attachment drops, detached when the service stops. Name it by device (with serial) or by busid; a name that matches several devices is refused with the candidates.',
    keys: {
      server: 'The server: a host name or address, with an optional :port (default 3240); an IPv6 address in brackets.',
      device: 'VID:PID of the device on the server.',
      serial: 'Optional, with device: the device with this serial number (needs the server\'s device list, which kvc serves on TCP 3241).',
      busid: 'Instead of device and serial: the device\'s bus id on the server (e.g. 1-2).',
      container: 'Optional: attach the device only while the container of this name runs, and give that container alone the device\'s nodes.',
      'list-port': 'Optional: the TCP port where the server serves kvc\'s device list (default 3241; 0: do not ask).',
    },
  },
  server: {
    header: '[server]',
    text: 'Optional, on a server: what the exporting side serves besides usbipd.',
    keys: {
      'metadata-port': 'The TCP port of kvc\'s read-only device list, GET /v1/devices: bus id, VID:PID, serial and state of each exported device (default 3241; 0: none).',
      listen: 'Optional: where the device list is served besides loopback: addresses or interface names, comma-separated (default: loopback only; never every address). Each client is told only of the exports it may attach.',
    },
  },
  tunnel: {
    header: '[tunnel]',
    text: 'Optional: USB/IP only through WireGuard. The service brings up the interface kvcwg with this host\'s key and the peers of `kvc usbip peer add` while it runs, and takes it down when it stops; with exports, TCP 3240/3241 is then admitted only on kvcwg from the peers the exports\' clients name (a peer by its name, or an address or block that covers its tunnel address), never from the plain network. Needs the kernel\'s wireguard module and wireguard-tools.',
    keys: {
      address: 'This host\'s address in the tunnel with its prefix, e.g. 10.232.0.1/24.',
      port: 'Optional: the UDP port WireGuard listens on (default 51820).',
    },
  },
} as const satisfies Readonly<Record<string, DevicesFileSection>>;

// The name of a section kind: export, import, server, tunnel.
export type DevicesFileSectionName = keyof typeof DEVICES_FILE_SECTIONS;

// The keys of one section, in order.
export function sectionKeys<S extends DevicesFileSectionName>(section: S): readonly (keyof (typeof DEVICES_FILE_SECTIONS)[S]['keys'] & string)[] {
  return Object.keys(DEVICES_FILE_SECTIONS[section].keys) as (keyof (typeof DEVICES_FILE_SECTIONS)[S]['keys'] & string)[];
}
