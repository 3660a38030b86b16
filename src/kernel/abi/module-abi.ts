// What one kernel module says of the ABI it was built for: its vermagic and the CRC of every
// symbol it imports (__versions, what `modprobe --dump-modversions` prints), and the symbols it
// exports (__ksymtab_strings). Pure: parsed from the module's bytes or from kmod's text output.
import { elfSections } from './elf.js';

// One module's ABI facts.
export interface ModuleAbi {
  // The module's file name without .ko (dashes kept: usbip-core), as modpost and modinfo name it.
  readonly name: string;
  // .modinfo's vermagic, byte for byte (Debian's ends with a space); undefined when it has none.
  readonly vermagic: string | undefined;
  // Each imported symbol's CRC (32 bits) from __versions; empty for a kernel without MODVERSIONS.
  readonly versions: ReadonlyMap<string, number>;
  // Names in __ksymtab_strings: the symbols it exports (and, since 5.4, their namespaces' names).
  readonly exports: readonly string[];
}

// One struct modversion_info: an unsigned long CRC, then the name, 64 bytes in all.
const MODVERSION_SIZE = 64;

// The `key=value` entries of a .modinfo section (NUL-separated), in order.
export function parseModinfoSection(data: Buffer): Array<[string, string]> {
  return data.toString('latin1').split('\0').filter((entry) => entry.includes('=')).map((entry) => {
    const at = entry.indexOf('=');
    return [entry.slice(0, at), entry.slice(at + 1)];
  });
}

// The CRCs of a __versions section.
export function parseVersionsSection(data: Buffer): Map<string, number> {
  const versions = new Map<string, number>();
  for (let at = 0; at + MODVERSION_SIZE <= data.length; at += MODVERSION_SIZE) {
    const crc = data.readUInt32LE(at);
    const end = data.indexOf(0, at + 8);
    const name = data.toString('latin1', at + 8, end < 0 || end > at + MODVERSION_SIZE ? at + MODVERSION_SIZE : end);
    if (name !== '') versions.set(name, crc);
  }
  return versions;
}

// The ABI facts of a module's (uncompressed) bytes; `name` is its file name without .ko.
export function readModuleAbi(name: string, bytes: Buffer): ModuleAbi {
  const sections = elfSections(bytes);
  const modinfo = parseModinfoSection(sections.get('.modinfo') ?? Buffer.alloc(0));
  return {
    name,
    vermagic: modinfo.find(([key]) => key === 'vermagic')?.[1],
    versions: parseVersionsSection(sections.get('__versions') ?? Buffer.alloc(0)),
    exports: (sections.get('__ksymtab_strings') ?? Buffer.alloc(0)).toString('latin1').split('\0').filter((entry) => entry !== ''),
  };
}

// Parses `modprobe --dump-modversions` output ("0x1234abcd\tsymbol" a line).
export function parseDumpModversions(text: string): Map<string, number> {
  const versions = new Map<string, number>();
  for (const line of text.split('\n')) {
    const found = /^0x([0-9a-fA-F]{1,16})\s+(\S+)$/.exec(line.trim());
    if (found !== null) versions.set(found[2] as string, Number(BigInt(`0x${found[1]}`) & 0xffffffffn));
  }
  return versions;
}

// A CRC as modpost and modprobe print it: 0x and eight hex digits.
export function formatCrc(crc: number): string {
  return `0x${crc.toString(16).padStart(8, '0')}`;
}
