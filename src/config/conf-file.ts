// Reads one kmods-via-containers style file (KEY=value lines, # comments) into raw string entries.
import { readFile, realpath, stat } from 'node:fs/promises';
import { dirname, sep } from 'node:path';
import { assertTrusted, isSymlink } from './trust.js';
import ini from 'ini';
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
}

const MAX_BYTES = 64 * 1024;
const LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;
const BLANK_OR_COMMENT = /^\s*(?:[#;].*)?$/;

// Reads and parses `path`; `undefined` when the file does not exist and `optional` is set.
export async function readConfFile(path: string, optional = false): Promise<ConfFile | undefined> {
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
    if (code === 'ENOENT') throw new ConfigError(path, undefined, 'does not exist', { hint: 'create it (see the README for its keys) or check --config-dir', cause: error });
    throw new ConfigError(path, undefined, `cannot be read (${code ?? String(error)})`, { hint: 'check its permissions', cause: error });
  }
  return { path, entries: parseConfText(path, decodeUtf8(path, bytes)) };
}

function decodeUtf8(path: string, bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    throw new ConfigError(path, undefined, 'is not valid UTF-8 text', { hint: 'save it as plain UTF-8 text', cause: error });
  }
}

// Parses the text of a file; every line must be blank, a comment, or KEY=value. Pure, for tests.
export function parseConfText(path: string, text: string): Map<string, ConfEntry> {
  const entries = new Map<string, ConfEntry>();
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    if (BLANK_OR_COMMENT.test(raw)) return;
    if (raw.includes('\0')) throw new ConfigError(path, undefined, `line ${lineNo} contains a NUL byte`, { hint: 'remove it' });
    const match = LINE.exec(raw);
    if (match === null) {
      throw new ConfigError(path, undefined, `line ${lineNo} is not KEY=value: ${JSON.stringify(raw.trim().slice(0, 60))}`, {
        hint: 'write one KEY=value per line; comments start with #',
      });
    }
    const key = match[1] as string;
    const value = decodeValue(path, key, lineNo, (match[2] as string).trim());
    const previous = entries.get(key);
    if (previous !== undefined) {
      throw new ConfigError(path, key, `is set twice (lines ${previous.line} and ${lineNo})`, { hint: 'keep one of them' });
    }
    entries.set(key, { value, line: lineNo });
  });
  return entries;
}

// Decodes one value with ini's rules (quotes stripped, unquoted # and ; start a comment), then
// refuses what a shell would have expanded, since these files were written to be sourced by bash.
function decodeValue(path: string, key: string, lineNo: number, rawValue: string): string {
  const withoutTrailingComment = stripCommentAfterQuotes(rawValue);
  const decoded = ini.decode(`v=${withoutTrailingComment}`, { bracketedArray: false }) as Record<string, unknown>;
  const value = decoded['v'];
  const text = value === undefined || value === true ? '' : String(value);
  if (/["'`]/.test(text)) {
    throw new ConfigError(path, key, `line ${lineNo} has unbalanced quotes`, { hint: 'quote the whole value once, e.g. KEY="a b"' });
  }
  if (text.includes('$')) {
    throw new ConfigError(path, key, `line ${lineNo} uses $, but kvc does not expand shell variables or commands`, { hint: 'write the value out literally' });
  }
  if (/[\r\n\t\v\f]/.test(text) || /\p{Cc}/u.test(text)) {
    throw new ConfigError(path, key, `line ${lineNo} contains a control character`, { hint: 'remove it' });
  }
  return text;
}

// `"a b" # note` → `"a b"`: ini keeps a comment that follows a closing quote, a shell does not.
function stripCommentAfterQuotes(value: string): string {
  const quoted = /^(["'])(.*?)\1\s*(?:[#;].*)?$/.exec(value);
  return quoted === null ? value : `${quoted[1]}${quoted[2]}${quoted[1]}`;
}
