// `kvc publish`'s pure parts: which kernels' images to push (idempotent: an image already pushed
// to the same place is not pushed again), and the record of each push.
import { jsonObject } from './record-files.js';

// What was pushed for a kernel: which local image, where, and the digest the registry has.
export interface PublishRecord {
  readonly kernel: string;
  readonly imageId: string;
  readonly destination: string;
  readonly digest: string;
  readonly at: string;
}

// For one kernel: push its image, or not (already there, with the digest recorded then).
export type PublishStep = { readonly kernel: string; readonly push: true } | { readonly kernel: string; readonly push: false; readonly digest: string };

// Pushes each kernel whose local image (id) has not been pushed to that destination before.
export function publishSteps(kernels: readonly { kernel: string; imageId: string; destination: string }[], records: readonly PublishRecord[]): PublishStep[] {
  return kernels.map(({ kernel, imageId, destination }) => {
    const done = records.find((record) => record.kernel === kernel && record.imageId === imageId && record.destination === destination);
    return done === undefined ? { kernel, push: true } : { kernel, push: false, digest: done.digest };
  });
}

// A record from its file's text, checked field by field; undefined when it is not one.
export function parsePublishRecord(text: string): PublishRecord | undefined {
  const record = jsonObject(text);
  if (record === undefined) return undefined;
  const ok = ['kernel', 'imageId', 'destination', 'digest', 'at'].every((field) => typeof record[field] === 'string') && /^sha256:[0-9a-f]{64}$/.test(record['digest'] as string);
  return ok ? (record as unknown as PublishRecord) : undefined;
}

// The digest podman's --digestfile holds, checked.
export function parseDigestFile(text: string): string | undefined {
  const digest = text.trim();
  return /^sha256:[0-9a-f]{64}$/.test(digest) ? digest : undefined;
}
