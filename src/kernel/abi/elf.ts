// The named sections of a 64-bit little-endian ELF relocatable object (a kernel module), read
// from its bytes; nothing else of the ELF format is needed to learn a module's ABI.

// Why some bytes are not a module kvc can read.
export class ElfFormatError extends Error {}

const ELF_MAGIC = 0x464c457f;

// Each section's bytes by name (the first of a name wins). Throws ElfFormatError for what is not a
// 64-bit little-endian ELF file or whose section table lies outside it.
export function elfSections(bytes: Buffer): Map<string, Buffer> {
  if (bytes.length < 64 || bytes.readUInt32LE(0) !== ELF_MAGIC) throw new ElfFormatError('not an ELF file');
  if (bytes[4] !== 2 || bytes[5] !== 1) throw new ElfFormatError('not a 64-bit little-endian ELF file');
  const tableOffset = Number(bytes.readBigUInt64LE(0x28));
  const entrySize = bytes.readUInt16LE(0x3a);
  const count = bytes.readUInt16LE(0x3c);
  const namesIndex = bytes.readUInt16LE(0x3e);
  if (entrySize < 64 || tableOffset + entrySize * count > bytes.length || namesIndex >= count) throw new ElfFormatError('section table outside the file');
  const headers = Array.from({ length: count }, (_, index) => {
    const at = tableOffset + index * entrySize;
    const offset = Number(bytes.readBigUInt64LE(at + 0x18));
    const size = Number(bytes.readBigUInt64LE(at + 0x20));
    const type = bytes.readUInt32LE(at + 4);
    // SHT_NOBITS (8) occupies nothing in the file.
    const data = type === 8 || offset + size > bytes.length ? Buffer.alloc(0) : bytes.subarray(offset, offset + size);
    return { name: bytes.readUInt32LE(at), data };
  });
  const names = headers[namesIndex]!.data;
  const sections = new Map<string, Buffer>();
  for (const header of headers) {
    const end = names.indexOf(0, header.name);
    const name = names.toString('latin1', header.name, end < 0 ? names.length : end);
    if (!sections.has(name)) sections.set(name, header.data);
  }
  return sections;
}

const MAGIC_BYTES = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

// Splits the concatenation of ELF files (what `xz -dc a.ko.xz b.ko.xz …` prints) into the files:
// each one ends with its section table (as a kernel module does), then an appended signature may
// follow; the next starts at the next ELF magic. Throws ElfFormatError when the stream does not start
// with one.
export function splitElfStream(stream: Buffer): Buffer[] {
  const files: Buffer[] = [];
  let at = 0;
  while (at < stream.length) {
    if (stream.indexOf(MAGIC_BYTES, at) !== at || stream.length - at < 64) throw new ElfFormatError(`no ELF file at byte ${at} of the stream`);
    const end = at + Number(stream.readBigUInt64LE(at + 0x28)) + stream.readUInt16LE(at + 0x3a) * stream.readUInt16LE(at + 0x3c);
    if (end > stream.length) throw new ElfFormatError('section table outside the file');
    const next = stream.indexOf(MAGIC_BYTES, end);
    files.push(stream.subarray(at, next < 0 ? stream.length : next));
    at = next < 0 ? stream.length : next;
  }
  return files;
}
