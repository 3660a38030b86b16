// usbip's own port records ("host port busid" in /run/vhci_hcd/port<N>, what `usbip port` reads to
// name a port's server), kept in a folder of the host that the tools container has bound at
// /run/vhci_hcd (the payload's tools state, payload.ts). The service reads the tool's records there
// and writes those of the ports it attached itself, as plain file operations: no container exec
// (a second or more under emulation, and a podman call that can hang).
// The folder is written by the tools container too, so nothing in it is trusted as a path: a file
// is opened without following a link, read only when it is a small regular file, and replaced by
// rename from a file created new (never opened if it is there already).
import { constants, type Stats } from 'node:fs';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parsePortRecord } from './usb-sysfs.js';

// Where usbip keeps its records in its container (tools/usb/usbip/libsrc/vhci_driver.h).
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

  // Writes the record of a port this host attached without the tool: a new file, then renamed over
  // the port's (a link planted at the port's name is replaced, not followed).
  async write(port: number, record: ToolPortRecord): Promise<void> {
    const line = formatToolRecord(record);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temporary = join(this.dir, `.kvc-port${port}-${randomBytes(6).toString('hex')}`);
    const file = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await file.write(line);
    } finally {
      await file.close();
    }
    try {
      await rename(temporary, this.file(port));
    } catch (error) {
      await unlink(temporary).catch(() => undefined);
      throw error;
    }
  }

  private file(port: number): string {
    if (!Number.isInteger(port) || port < 0) throw new RangeError(`not a vhci port: ${port}`);
    return join(this.dir, `port${port}`);
  }
}
