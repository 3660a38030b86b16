// The keys the running kernel trusts for modules, from /proc/keys and `keyctl list` (keyutils).
// Parsing only: pure functions on the two texts (keyring-reader.ts reads them).

// The keyrings whose keys verify module signatures, as Debian's 6.1 and 6.12 kernels use them:
// the kernel's own keys, keys added later, MOK keys shim passes on (.machine, linked into
// .secondary), and the firmware's db (.platform, which Debian's kernels also accept for modules).
export const TRUSTED_KEYRINGS = ['.builtin_trusted_keys', '.secondary_trusted_keys', '.machine', '.platform'] as const;

// One line of /proc/keys (keys(7): ID FLAGS USAGE EXPIRY PERM UID GID TYPE DESCRIPTION: SUMMARY).
export interface ProcKey {
  // The serial, as /proc/keys prints it (8 hex digits).
  readonly id: string;
  // The type, cut to 9 characters there ("asymmetri", "keyring").
  readonly type: string;
  // What the key's type names it: a keyring's name, an X.509 key's "subject: key id".
  readonly description: string;
}

// A key in a keyring, as `keyctl list` prints it.
export interface ListedKey {
  // The serial in decimal, as keyctl prints it.
  readonly id: number;
  readonly type: string;
  readonly description: string;
}

// The line format /proc/keys has had since Linux 2.6.10 (security/keys/proc.c).
const PROC_KEYS_LINE = /^([0-9a-f]{8}) \S+\s+\d+\s+\S+\s+[0-9a-f]{8}\s+\d+\s+\d+\s+(\S+)\s+(.*)$/;
// An asymmetric key's summary after its description: ": X509.rsa 3b6c5c5a []" (subtype, the end of
// its id when it has one, its restriction), or just ": X509.rsa []".
const ASYMMETRIC_SUMMARY = /^(.*): [A-Za-z0-9]+\.[A-Za-z0-9_-]+(?: [0-9a-f]+)? \[[^\]]*\]$/;
// A keyring's summary: ": 3" (keys in it) or ": empty".
const KEYRING_SUMMARY = /^(.*): (?:\d+|empty)$/;

// Parses /proc/keys; lines of another shape are skipped.
export function parseProcKeys(text: string): ProcKey[] {
  const keys: ProcKey[] = [];
  for (const line of text.split('\n')) {
    const match = PROC_KEYS_LINE.exec(line);
    if (match === null) continue;
    const type = match[2] as string;
    const rest = match[3] as string;
    const summary = type === 'keyring' ? KEYRING_SUMMARY.exec(rest) : type.startsWith('asymmetri') ? ASYMMETRIC_SUMMARY.exec(rest) : null;
    keys.push({ id: match[1] as string, type, description: summary === null ? rest : (summary[1] as string) });
  }
  return keys;
}

// The serial of each keyring /proc/keys shows, by name (the caller looks up the trusted ones).
export function keyringIds(keys: readonly ProcKey[]): Map<string, string> {
  return new Map(keys.filter((key) => key.type === 'keyring').map((key) => [key.description, key.id]));
}

// Parses `keyctl list <ring>`: "N keys in keyring:" then "<serial>: <perm> <uid> <gid> <type>: <description>"
// per key ("keyring is empty" for none; keys it may not describe are skipped).
export function parseKeyctlList(text: string): ListedKey[] {
  const keys: ListedKey[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+): \S+\s+\d+\s+\d+ ([A-Za-z0-9_.-]+): (.*)$/.exec(line);
    if (match !== null) keys.push({ id: Number(match[1]), type: match[2] as string, description: match[3] as string });
  }
  return keys;
}

// The id an X.509 key's description ends with (its subject key identifier, else its serial),
// lower-case hex; undefined for a description without one.
export function keyIdOfDescription(description: string): string | undefined {
  const id = /: ([0-9a-f]+)$/.exec(description)?.[1];
  return id === undefined ? undefined : id.replace(/^(00)+(?=.)/, '');
}

// The subject part of an X.509 key's description ("Debian Secure Boot CA: 6ccece…" → the CA's name).
export function subjectOfDescription(description: string): string {
  const end = description.lastIndexOf(': ');
  return end < 0 ? description : description.slice(0, end);
}

// A key the kernel trusts for modules, and where it is.
export interface TrustedKey {
  readonly keyId: string;
  readonly subject: string;
  // The keyrings it was found in, or ['unknown'] when membership could not be read.
  readonly keyrings: readonly string[];
}

// The trusted keys from each ring's `keyctl list`, or, where keyctl could not be run (undefined),
// from every X.509 key /proc/keys shows (membership unknown; the kernel's own system keyrings
// hold nearly all of them).
export function trustedKeys(proc: readonly ProcKey[], lists: ReadonlyMap<string, readonly ListedKey[]> | undefined): TrustedKey[] {
  const found = new Map<string, { subject: string; keyrings: string[] }>();
  const add = (description: string, keyring: string) => {
    const keyId = keyIdOfDescription(description);
    if (keyId === undefined) return;
    const entry = found.get(keyId) ?? { subject: subjectOfDescription(description), keyrings: [] };
    if (!entry.keyrings.includes(keyring)) entry.keyrings.push(keyring);
    found.set(keyId, entry);
  };
  if (lists === undefined) {
    for (const key of proc) if (key.type.startsWith('asymmetri')) add(key.description, 'unknown');
  } else {
    for (const ring of TRUSTED_KEYRINGS) for (const key of lists.get(ring) ?? []) if (key.type === 'asymmetric') add(key.description, ring);
  }
  return [...found].map(([keyId, entry]) => ({ keyId, subject: entry.subject, keyrings: entry.keyrings }));
}
