// What the last pull of a kernel's image did, kept at <stateDir>/<instance>/pull/<kver>.json so
// that `kvc status` (another process) can say why a node built, or loaded nothing.
import { join } from 'node:path';
import { jsonObject, readRecordFiles, writeRecordFile } from './record-files.js';

// One pull: accepted (the image now has its local name), or refused or unreachable, with why.
export interface PullRecord {
  readonly kernel: string;
  readonly image: string;
  readonly outcome: 'pulled' | 'refused' | 'unreachable';
  readonly reason: string | null;
  // What came next: a local 'built' (started), 'none' (KVC_BUILD_FALLBACK=no), or null (pulled).
  readonly fallback: 'built' | 'none' | null;
  readonly at: string;
}

// The folder of an instance's pull records.
export function pullRecordDir(stateDir: string, instance: string): string {
  return join(stateDir, instance, 'pull');
}

// Writes a record (whole or not at all).
export async function writePullRecord(stateDir: string, instance: string, record: PullRecord): Promise<void> {
  await writeRecordFile(pullRecordDir(stateDir, instance), record.kernel, record);
}

// Every record of an instance (none when the folder is absent); a file that is not a record is skipped.
export async function readPullRecords(stateDir: string, instance: string): Promise<PullRecord[]> {
  return readRecordFiles(pullRecordDir(stateDir, instance), parsePullRecord);
}

// A record from its file's text, checked field by field; undefined when it is not one.
export function parsePullRecord(text: string): PullRecord | undefined {
  const record = jsonObject(text);
  if (record === undefined) return undefined;
  const ok = typeof record['kernel'] === 'string' && typeof record['image'] === 'string' && typeof record['at'] === 'string'
    && ['pulled', 'refused', 'unreachable'].includes(record['outcome'] as string)
    && (record['reason'] === null || typeof record['reason'] === 'string')
    && [null, 'built', 'none'].includes(record['fallback'] as string | null);
  return ok ? (record as unknown as PullRecord) : undefined;
}

// One line for people: "pulled …", or "pull refused: …; built locally".
export function describePull(record: PullRecord): string {
  const next = record.fallback === 'built' ? '; built locally instead (KVC_BUILD_FALLBACK=yes)' : record.fallback === 'none' ? '; not built (KVC_BUILD_FALLBACK=no)' : '';
  if (record.outcome === 'pulled') return `pulled ${record.image}, signature and checks passed (${record.at})`;
  return `pull of ${record.image} ${record.outcome === 'refused' ? 'refused' : 'failed'}: ${record.reason ?? 'no reason recorded'}${next} (${record.at})`;
}
