// A Module.symvers-style table (symbol → CRC and the module that exports it): parsed from a kernel's
// own Module.symvers, or recovered from the __versions of the modules installed for that kernel.
// Pure: the modules' facts come in as data (module-abi.ts reads them).
import { formatCrc, type ModuleAbi } from './module-abi.js';

// One exported symbol as modpost needs it.
export interface SymversEntry {
  readonly crc: number;
  // The exporting module's name, or "vmlinux" for the kernel itself.
  readonly module: string;
  readonly namespace: string;
}

// What the recovery found: the table, and the symbols the installed modules disagree on.
export interface RecoveredSymvers {
  readonly table: ReadonlyMap<string, SymversEntry>;
  // Symbols imported with two CRCs (modules of two builds mixed in one tree): not trusted, left out.
  readonly conflicts: ReadonlyMap<string, readonly number[]>;
}

// Parses a Module.symvers ("0xCRC\tsymbol\tmodule\tEXPORT_SYMBOL[_GPL]\tnamespace" a line; the
// namespace column is empty or absent for most).
export function parseSymvers(text: string): Map<string, SymversEntry> {
  const table = new Map<string, SymversEntry>();
  for (const line of text.split('\n')) {
    const [crc, symbol, module, , namespace] = line.split('\t');
    if (crc === undefined || symbol === undefined || module === undefined || !/^0x[0-9a-fA-F]+$/.test(crc)) continue;
    table.set(symbol, { crc: Number(BigInt(crc) & 0xffffffffn), module, namespace: namespace ?? '' });
  }
  return table;
}

// Recovers the table from the installed modules: each symbol's CRC from the __versions of the
// modules that import it (all must agree), its module from the one whose __ksymtab_strings names
// it, else vmlinux. Symbols no module imports cannot be recovered (they are absent).
export function recoverSymvers(modules: readonly ModuleAbi[]): RecoveredSymvers {
  const exporter = new Map<string, string>();
  for (const module of modules) for (const name of module.exports) if (!exporter.has(name)) exporter.set(name, module.name);
  const crcs = new Map<string, Set<number>>();
  for (const module of modules) {
    for (const [symbol, crc] of module.versions) {
      const seen = crcs.get(symbol) ?? new Set<number>();
      seen.add(crc);
      crcs.set(symbol, seen);
    }
  }
  const table = new Map<string, SymversEntry>();
  const conflicts = new Map<string, number[]>();
  for (const [symbol, seen] of [...crcs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (seen.size > 1) {
      conflicts.set(symbol, [...seen]);
      continue;
    }
    table.set(symbol, { crc: [...seen][0] as number, module: exporter.get(symbol) ?? 'vmlinux', namespace: '' });
  }
  return { table, conflicts };
}

// The table as a Module.symvers file modpost reads (EXPORT_SYMBOL for every entry: the kind is
// not recorded in __versions, and modpost checks it only for GPL-only use by non-GPL modules).
export function formatSymvers(table: ReadonlyMap<string, SymversEntry>): string {
  return [...table].map(([symbol, entry]) => `${formatCrc(entry.crc)}\t${symbol}\t${entry.module}\tEXPORT_SYMBOL\t${entry.namespace}\n`).join('');
}

// The CRCs of `/proc/kallsyms` or System.map lines of type A named __crc_<symbol> (kernels before
// 5.19 kept each CRC as such an absolute symbol; later ones keep none there).
export function parseKallsymsCrcs(text: string): Map<string, number> {
  const crcs = new Map<string, number>();
  for (const line of text.split('\n')) {
    const found = /^([0-9a-fA-F]+) [Aa] __crc_(\S+)/.exec(line);
    if (found === null) continue;
    const value = BigInt(`0x${found[1]}`);
    // kallsyms prints 0 for every address to a reader without CAP_SYSLOG: nothing learned then.
    if (value !== 0n) crcs.set(found[2] as string, Number(value & 0xffffffffn));
  }
  return crcs;
}
