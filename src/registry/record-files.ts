// A folder of small JSON records, one file a kernel (<kver>.json), written whole or not at all and
// read back through a checking parser: the pull and publish records.
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// Writes <dir>/<kernel>.json from a temporary file renamed over the old one.
export async function writeRecordFile(dir: string, kernel: string, record: unknown): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, `${kernel}.json`);
  await writeFile(`${path}.tmp`, `${JSON.stringify(record)}\n`, { mode: 0o644 });
  await rename(`${path}.tmp`, path);
}

// Every record of the folder (none when it is absent), in file name order; files the parser
// refuses are skipped.
export async function readRecordFiles<T>(dir: string, parse: (text: string) => T | undefined): Promise<T[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.json')).sort();
  const records: T[] = [];
  for (const name of names) {
    const record = parse(await readFile(join(dir, name), 'utf8').catch(() => ''));
    if (record !== undefined) records.push(record);
  }
  return records;
}

// A file's text as a JSON object, or undefined (not JSON, or not an object): the parsers' first step.
export function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
