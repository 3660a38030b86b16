// What usbipd's own log lines say about who imports what, read from whole lines of exactly its
// formats: a peer's request echoes strings it chose ("requested device not found: <its bus id>"),
// so a pattern found anywhere in a line would let a peer forge the record (issue 25, item 9).
import { BUSID } from './devices-file.js';

// One line of usbipd's stderr, its "usbipd: " and level prefixes taken off.
export type UsbipdLine =
  | { readonly kind: 'connection'; readonly peer: string }
  | { readonly kind: 'found'; readonly busid: string }
  | { readonly kind: 'other'; readonly text: string };

// An IPv4 or IPv6 address with usbipd's ":port" after it.
const CONNECTION = /^connection from ([0-9.]+|[0-9A-Fa-f:.]+):([0-9]{1,5})$/;
const FOUND = /^found requested device: (\S+)$/;

// Reads one line. Pure.
export function parseUsbipdLine(line: string): UsbipdLine {
  const text = line.replace(/^(usbipd: )+/, '').replace(/^(info|error|debug): /, '');
  const connection = CONNECTION.exec(text);
  if (connection !== null) return { kind: 'connection', peer: connection[1]! };
  const found = FOUND.exec(text);
  if (found !== null && BUSID.test(found[1]!)) return { kind: 'found', busid: found[1]! };
  return { kind: 'other', text };
}
