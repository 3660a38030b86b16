// Reads the keys the running kernel trusts for modules: /proc/keys for the keyrings' serials, then
// `keyctl list` of each (keyutils; without it, every X.509 key /proc/keys shows, membership unknown).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { findOnPath } from '../host/find-on-path.js';
import { keyringIds, parseKeyctlList, parseProcKeys, trustedKeys, TRUSTED_KEYRINGS, type ListedKey, type TrustedKey } from './keyrings.js';
import { environment } from '../environment.js';

// What was read, and how.
export interface KernelKeys {
  // undefined when /proc/keys is absent or unreadable (a kernel without CONFIG_KEYS, or not root).
  readonly keys: readonly TrustedKey[] | undefined;
  // Whether each key's keyring is known (keyctl ran); else a note says why not.
  readonly note: string | undefined;
}

// Reads /proc/keys under the host's root and runs keyctl for the trusted keyrings.
export async function readKernelKeys(hostRoot: string, env: NodeJS.ProcessEnv = environment()): Promise<KernelKeys> {
  let text: string;
  try {
    text = await readFile(join(hostRoot, 'proc/keys'), 'utf8');
  } catch (error) {
    return { keys: undefined, note: `cannot read /proc/keys (${(error as NodeJS.ErrnoException).code ?? String(error)})` };
  }
  const proc = parseProcKeys(text);
  const keyctl = findOnPath('keyctl', env['PATH']);
  if (keyctl === undefined) return { keys: trustedKeys(proc, undefined), note: 'keyctl (package keyutils) is not installed: which keyring holds a key is not known' };
  const ids = keyringIds(proc);
  const lists = new Map<string, readonly ListedKey[]>();
  for (const ring of TRUSTED_KEYRINGS) {
    const id = ids.get(ring);
    if (id === undefined) continue;
    const result = await execa(keyctl, ['list', String(Number.parseInt(id, 16))], { reject: false, timeout: 10_000, env });
    if (result.exitCode !== 0) return { keys: trustedKeys(proc, undefined), note: `keyctl list ${ring} failed (${String(result.stderr).trim()}): which keyring holds a key is not known` };
    lists.set(ring, parseKeyctlList(String(result.stdout)));
  }
  return { keys: trustedKeys(proc, lists), note: undefined };
}
