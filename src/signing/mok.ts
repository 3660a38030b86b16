// shim's Machine Owner Key list through mokutil: whether a certificate is enrolled or waiting for
// MokManager at the next boot, and queuing one (`mokutil --import`). Parsing is pure.
import { randomInt } from 'node:crypto';
import { execa } from 'execa';
import { findOnPath } from '../host/find-on-path.js';
import { environment } from '../environment.js';

// Where a certificate stands with shim.
export type MokState = 'enrolled' | 'pending' | 'absent' | 'unknown';

// The SHA-1 fingerprints `mokutil --list-enrolled` or `--list-new` prints, one "[key N]" block
// each ("SHA1 Fingerprint: 76:a0:92:…"), as lower-case hex without colons.
export function parseMokList(text: string): string[] {
  const fingerprints: string[] = [];
  for (const line of text.split('\n')) {
    const match = /^SHA1 Fingerprint:\s*([0-9A-Fa-f:]+)\s*$/.exec(line);
    if (match !== null) fingerprints.push(normalizeFingerprint(match[1] as string));
  }
  return fingerprints;
}

// "AA:BB:…" or "aabb…" → "aabb…".
export function normalizeFingerprint(text: string): string {
  return text.replace(/:/g, '').toLowerCase();
}

// The state from the two lists (undefined: that list could not be read).
export function mokStateOf(fingerprint: string, enrolled: readonly string[] | undefined, pending: readonly string[] | undefined): MokState {
  const wanted = normalizeFingerprint(fingerprint);
  if (enrolled?.includes(wanted) === true) return 'enrolled';
  if (pending?.includes(wanted) === true) return 'pending';
  return enrolled === undefined && pending === undefined ? 'unknown' : 'absent';
}

// What mokutil said, or why it could not be asked.
export interface MokReading {
  readonly state: MokState;
  readonly note: string | undefined;
}

// Asks mokutil for both lists. An empty list makes mokutil say "… is empty" and exit non-zero;
// no EFI variables at all (a BIOS boot) makes every list unreadable.
export async function readMokState(fingerprint: string, env: NodeJS.ProcessEnv = environment()): Promise<MokReading> {
  const mokutil = findOnPath('mokutil', env['PATH']);
  if (mokutil === undefined) return { state: 'unknown', note: 'mokutil is not installed (package mokutil): the MOK list cannot be read' };
  const list = async (option: string): Promise<string[] | undefined> => {
    const result = await execa(mokutil, [option], { reject: false, timeout: 20_000, env, stdin: 'ignore' });
    const said = `${String(result.stdout)}\n${String(result.stderr)}`;
    if (result.exitCode === 0 || /is empty/.test(said)) return parseMokList(String(result.stdout));
    return undefined;
  };
  const enrolled = await list('--list-enrolled');
  const pending = await list('--list-new');
  const state = mokStateOf(fingerprint, enrolled, pending);
  return { state, note: state === 'unknown' ? 'mokutil could not read the MOK lists (no EFI variables: not booted through UEFI and shim?)' : undefined };
}

// Letters and digits that are not mistaken for one another and sit where a US keyboard has them
// (MokManager reads the password as such a keyboard types it).
const PASSWORD_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

// A one-time password for MokManager: 8 characters (mokutil's minimum on older versions).
export function oneTimePassword(): string {
  return Array.from({ length: 8 }, () => PASSWORD_ALPHABET[randomInt(PASSWORD_ALPHABET.length)]).join('');
}

// How `mokutil --import` went.
export interface ImportResult {
  readonly exitCode: number;
  readonly output: string;
}

// Queues a DER certificate for enrolment. With a password, mokutil reads it (twice) from its
// stdin; without, it asks the person at the terminal (stdio inherited).
export async function importCertificate(mokutil: string, derPath: string, password: string | undefined, env: NodeJS.ProcessEnv = environment()): Promise<ImportResult> {
  if (password === undefined) {
    const result = await execa(mokutil, ['--import', derPath], { reject: false, stdio: 'inherit', env });
    return { exitCode: result.exitCode ?? 1, output: '' };
  }
  const result = await execa(mokutil, ['--import', derPath], { reject: false, input: `${password}\n${password}\n`, env, timeout: 60_000, all: true });
  return { exitCode: result.exitCode ?? 1, output: String(result.all ?? '') };
}
