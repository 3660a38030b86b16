// usbip's own port records ("host port busid" in /run/vhci_hcd/port<N>, what `usbip port` reads to
// name a port's server), kept in a folder of the host that the tools container has bound at
// /run/vhci_hcd (the payload's tools state, payload.ts). The service reads the tool's records there
// and writes those of the ports it attached itself, as plain file operations: no container exec
// (a second or more under emulation, and a podman call that can hang).
// The folder is written by the tools container too, so nothing in it is trusted as a path: a file
// is opened without following a link, read only when it is a small regular file, and replaced by
// rename from a file created new (never opened if it is there already); removing one removes the
// name, never what a link there points to.
import { constants, type Stats } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parsePortRecord } from './usb-sysfs.js';
import { replaceFile } from '../host/replace-file.js';

// Where usbip keeps its records in its container: /var/run/vhci_hcd (tools/usb/usbip/libsrc/
// usbip_common.h), which is /run/vhci_hcd in the image (Debian's /var/run is a link to /run; the
// integration test writes through /var/run and reads the host folder).
export const VHCI_STATE_PATH = '/run/vhci_hcd';

// A record as the tool writes it.
export interface ToolPortRecord {
  readonly host: string;
  readonly port: string;
  readonly busid: string;
}

// A record read back, and when it was last written (ms since the epoch, from the file's mtime).
export interface ReadToolRecord {
  readonly record: ToolPortRecord;
  readonly writtenMs: number;
}

// A record's line is at most this long (a host name, a TCP port and a bus id).
const MAX_BYTES = 1024;

// The one line of a record; refuses what could not be read back as one.
export function formatToolRecord(record: ToolPortRecord): string {
  const parts = [record.host, record.port, record.busid];
  if (parts.some((part) => part === '' || /\s|\0/.test(part))) throw new RangeError(`not a port record: ${JSON.stringify(parts)}`);
  return `${parts.join(' ')}\n`;
}

// The tool's records in the host folder bound at VHCI_STATE_PATH in the tools container.
export class ToolPortRecords {
  constructor(readonly dir: string) {}

  // The tool's record of the port, or undefined when there is none or it is not a plain record.
  async read(port: number): Promise<ReadToolRecord | undefined> {
    let file: FileHandle | undefined;
    try {
      // No link followed; O_NONBLOCK: a FIFO planted there does not hold the open.
      file = await open(this.file(port), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const stats: Stats = await file.stat();
      if (!stats.isFile() || stats.size > MAX_BYTES) return undefined;
      const buffer = Buffer.alloc(MAX_BYTES);
      const { bytesRead } = await file.read(buffer, 0, MAX_BYTES, 0);
      const record = parsePortRecord(buffer.subarray(0, bytesRead).toString('utf8'));
      return record === undefined ? undefined : { record, writtenMs: stats.mtimeMs };
    } catch {
      return undefined;
    } finally {
      await file?.close();
    }
  }

  // Writes the record of a port this host attached without the tool (replaceFile: a link planted
  // at the port's name is replaced, not followed).
  async write(port: number, record: ToolPortRecord): Promise<void> {
    await replaceFile(this.dir, basename(this.file(port)), formatToolRecord(record), { fileMode: 0o600, dirMode: 0o700 });
  }

  // Removes the port's record if it still says this (what kvc wrote for an attach of its own).
  async forget(port: number, record: ToolPortRecord): Promise<void> {
    const now = await this.read(port);
    if (now !== undefined && formatToolRecord(now.record) === formatToolRecord(record)) await unlink(this.file(port)).catch(() => undefined);
  }

  private file(port: number): string {
    if (!Number.isInteger(port) || port < 0) throw new RangeError(`not a vhci port: ${port}`);
    return join(this.dir, `port${port}`);
  }
}
