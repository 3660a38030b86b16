// Reads one kmods-via-containers style file (KEY=value lines, # comments) into raw string entries.
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { assertTrusted, isSymlink } from './trust.js';
import { ConfigError } from '../errors.js';

// One key as written in a file, with the line it came from.
export interface ConfEntry {
  readonly value: string;
  readonly line: number;
}

// A parsed file: its path and its keys (no defaults, nothing validated beyond syntax).
export interface ConfFile {
  readonly path: string;
  readonly entries: ReadonlyMap<string, ConfEntry>;
  // Lines of a legacy file that are not plain assignments and were left out.
  readonly skipped?: readonly number[];
}

const MAX_BYTES = 64 * 1024;

// Reads and parses `path`; `undefined` when the file does not exist and `optional` is set. A
// `legacy` file (the bash KVC's global one) is read tolerantly, its skipped lines in `skipped`.
export async function readConfFile(path: string, optional = false, legacy = false): Promise<ConfFile | undefined> {
  const text = await readConfigText(path, optional);
  if (text === undefined) return undefined;
  if (legacy) {
    const { entries, skipped } = parseLegacyConfText(path, text);
    return { path, entries, skipped };
  }
  return { path, entries: parseConfText(path, text) };
}

// Reads a configuration file kvc trusts (a .conf, a devices file): a regular file of at most
// 64 KiB, a link only within its folder, owned by root and written by root only up to /, UTF-8;
// checked before a byte is read. `undefined` when it does not exist and `optional` is set.
export async function readConfigText(path: string, optional = false): Promise<string | undefined> {
  let bytes: Buffer;
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new ConfigError(path, undefined, 'is a directory, not a configuration file', { hint: 'remove it or put a KEY=value file there' });
    if (!info.isFile()) throw new ConfigError(path, undefined, 'is not a regular file', { hint: 'replace it with a KEY=value file' });
    if (info.size > MAX_BYTES) throw new ConfigError(path, undefined, `is ${info.size} bytes, more than a configuration file should be (${MAX_BYTES})`, { hint: 'check that this is the right file' });
    if (isSymlink(path)) {
      const target = await realpath(path);
      const folder = await realpath(dirname(path));
      if (!target.startsWith(folder + sep)) {
        throw new ConfigError(path, undefined, `is a symbolic link to ${target}, outside ${folder}`, { hint: 'copy the file into the configuration folder instead of linking to it' });
      }
    }
    assertTrusted(path, path, undefined);
    bytes = await readFile(path);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && optional) return undefined;
    if (code === 'ENOENT') throw new ConfigError(path, undefined, 'does not exist', { hint: 'create it (see kvc.conf(5) for its keys) or check --config-dir', cause: error });
    throw new ConfigError(path, undefined, `cannot be read (${code ?? String(error)})`, { hint: 'check its permissions', cause: error });
  }
  return decodeUtf8(path, bytes);
}

function decodeUtf8(path: string, bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new ConfigError(path, undefined, 'is not valid UTF-8 text', { hint: 'save it as plain UTF-8 text', cause: error });
  }
}

// Parses the text of a file with the shell's rules, as `set -a; . FILE` in bash reads it: every
// line is blank, a # comment, or `[export ]KEY=WORD [# comment]`. Whatever bash would expand, run
// or read differently is refused rather than guessed. Pure, for tests.
export function parseConfText(path: string, text: string): Map<string, ConfEntry> {
  const entries = new Map<string, ConfEntry>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    const parsed = parseShellLine(path, raw, lineNo);
    if (parsed === undefined) return;
    const previous = entries.get(parsed.key);
    if (previous !== undefined) {
      throw new ConfigError(path, parsed.key, `is set twice (lines ${previous.line} and ${lineNo})`, { hint: 'keep one of them' });
    }
    entries.set(parsed.key, { value: parsed.value, line: lineNo });
  });
  return entries;
}

// Every error of a file's text at once (`kvc check`): each bad line, each key set twice. Pure.
export function confTextErrors(path: string, text: string): ConfigError[] {
  const errors: ConfigError[] = [];
  const seen = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    try {
      const parsed = parseShellLine(path, raw, lineNo);
      if (parsed === undefined) return;
      const previous = seen.get(parsed.key);
      if (previous !== undefined) errors.push(new ConfigError(path, parsed.key, `is set twice (lines ${previous} and ${lineNo})`, { hint: 'keep one of them' }));
      else seen.set(parsed.key, lineNo);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      errors.push(error);
    }
  });
  return errors;
}

// The bash KVC's own kmods-via-containers.conf is a shell fragment (a runtime-detection function,
// then KVC_CONTAINER_RUNTIME=$(get_container_environment)). Read tolerantly: plain assignments are
// taken, that detection means the default runtime, and every other line is skipped and listed.
export function parseLegacyConfText(path: string, text: string): { entries: Map<string, ConfEntry>; skipped: number[] } {
  const entries = new Map<string, ConfEntry>();
  const skipped: number[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    if (/^[ \t]*KVC_CONTAINER_RUNTIME=["']?\$\(get_container_environment\)["']?[ \t]*$/.test(raw)) return;
    try {
      const parsed = parseShellLine(path, raw, lineNo);
      if (parsed !== undefined) entries.set(parsed.key, { value: parsed.value, line: lineNo });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      skipped.push(lineNo);
    }
  });
  return { entries, skipped };
}

const ASSIGNMENT = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)=/;

// One line: undefined for a blank or comment line, else its key and value.
export function parseShellLine(path: string, raw: string, lineNo: number): { key: string; value: string } | undefined {
  if (/^[ \t]*(?:#.*)?$/.test(raw)) return undefined;
  if (raw.includes('\0')) throw new ConfigError(path, undefined, `line ${lineNo} contains a NUL byte`, { hint: 'remove it' });
  const match = ASSIGNMENT.exec(raw);
  if (match === null) {
    throw new ConfigError(path, undefined, `line ${lineNo} is not KEY=value: ${JSON.stringify(raw.trim().slice(0, 60))}`, {
      hint: 'write one KEY=value per line, with no spaces around =; comments start with #',
    });
  }
  const key = match[1] as string;
  return { key, value: readShellWord(path, key, lineNo, raw.slice(match[0].length)) };
}

// Reads one shell word (unquoted characters, \-escapes, '…' and "…"), then allows only blanks and
// a # comment after it.
function readShellWord(path: string, key: string, lineNo: number, rest: string): string {
  const refuse = (problem: string, hint: string): never => {
    throw new ConfigError(path, key, `line ${lineNo} ${problem}`, { hint });
  };
  const expands = (): never => refuse('uses $ or `, but kvc does not expand shell variables or commands', 'write the value out literally');
  let value = '';
  let i = 0;
  while (i < rest.length) {
    const c = rest[i] as string;
    if (c === ' ' || c === '\t') break;
    if (c === "'") {
      const end = rest.indexOf("'", i + 1);
      if (end < 0) refuse('has unbalanced quotes', "close the quote on the same line, e.g. KEY='a b'");
      value += rest.slice(i + 1, end);
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= rest.length) refuse('has unbalanced quotes', 'close the quote on the same line, e.g. KEY="a b"');
        const d = rest[i] as string;
        if (d === '"') { i++; break; }
        if (d === '$' || d === '`') expands();
        if (d === '\\' && i + 1 < rest.length && '$`"\\'.includes(rest[i + 1] as string)) { value += rest[i + 1]; i += 2; continue; }
        if (d === '\\' && i + 1 >= rest.length) refuse('continues on the next line', 'write the value on one line');
        value += d;
        i++;
      }
    } else if (c === '\\') {
      if (i + 1 >= rest.length) refuse('continues on the next line', 'write the value on one line');
      value += rest[i + 1];
      i += 2;
    } else if (c === '$' || c === '`') {
      expands();
    } else if (';&|<>()'.includes(c)) {
      refuse(`has an unquoted ${c}, which the shell would not read as part of the value`, 'quote the whole value, e.g. KEY="a;b"');
    } else if (c === '~') {
      refuse('has an unquoted ~, which the shell would expand to a home folder', 'quote it or write the path out');
    } else {
      value += c;
      i++;
    }
  }
  const after = rest.slice(i);
  if (!/^[ \t]*(?:#.*)?$/.test(after)) {
    refuse(`has more after the value: ${JSON.stringify(after.trim().slice(0, 40))}`, 'quote a value with spaces, e.g. KEY="a b"; one assignment per line');
  }
  if (/\p{Cc}/u.test(value)) refuse('contains a control character', 'remove it');
  return value;
}
