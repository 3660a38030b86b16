// The kernel's recent log lines (/dev/kmsg), to say why the kernel refused a module.
import { closeSync, constants, openSync, readSync } from 'node:fs';

// The text of one /dev/kmsg record ("prio,seq,usec,flags;text\n continuation…"). Pure, for tests.
export function kmsgText(record: string): string {
  const semicolon = record.indexOf(';');
  return (semicolon < 0 ? record : record.slice(semicolon + 1)).split('\n')[0] ?? '';
}

// The last kernel log line that mentions one of `words` (e.g. the module names), if any can be
// read: /dev/kmsg is read without blocking, and a host where it cannot be read gives undefined.
export function lastKernelLineAbout(words: readonly string[], path = '/dev/kmsg'): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  const buffer = Buffer.alloc(8192);
  let found: string | undefined;
  try {
    for (let records = 0; records < 100000; records += 1) {
      let length: number;
      try {
        length = readSync(fd, buffer, 0, buffer.length, null);
      } catch (error) {
        // EAGAIN: no more records; EPIPE: a record was overwritten while reading, go on.
        if ((error as NodeJS.ErrnoException).code === 'EPIPE') continue;
        break;
      }
      if (length <= 0) break;
      const text = kmsgText(buffer.toString('utf8', 0, length));
      if (words.some((word) => text.includes(word))) found = text;
    }
  } finally {
    closeSync(fd);
  }
  return found;
}
