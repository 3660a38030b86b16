// Just enough DER (X.690) to read one X.509 extension node:crypto does not expose: the subject key
// identifier, which the kernel shows as a key's id in /proc/keys. Pure.

// One DER element: its tag byte and where its contents lie in the buffer.
interface Element {
  readonly tag: number;
  readonly start: number;
  readonly end: number;
}

// The element at `offset`; undefined when the bytes are not well-formed DER there.
function elementAt(der: Uint8Array, offset: number, limit: number): Element | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = der[offset] as number;
  let length = der[offset + 1] as number;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || start + octets > limit) return undefined;
    length = 0;
    for (let i = 0; i < octets; i += 1) length = length * 256 + (der[start + i] as number);
    start += octets;
  }
  const end = start + length;
  return end > limit ? undefined : { tag, start, end };
}

// The elements directly inside a constructed element.
function childrenOf(der: Uint8Array, parent: Element): Element[] {
  const children: Element[] = [];
  for (let offset = parent.start; offset < parent.end;) {
    const child = elementAt(der, offset, parent.end);
    if (child === undefined) return [];
    children.push(child);
    offset = child.end;
  }
  return children;
}

const SEQUENCE = 0x30;
const OCTET_STRING = 0x04;
const OBJECT_ID = 0x06;
// [3] EXPLICIT, constructed: the extensions of a TBSCertificate.
const EXTENSIONS_TAG = 0xa3;
// 2.5.29.14, id-ce-subjectKeyIdentifier.
const SUBJECT_KEY_ID_OID = '551d0e';

// The subject key identifier of a DER certificate as lower-case hex, or undefined when it has none.
export function subjectKeyIdentifier(der: Uint8Array): string | undefined {
  const certificate = elementAt(der, 0, der.length);
  if (certificate?.tag !== SEQUENCE) return undefined;
  const tbs = childrenOf(der, certificate)[0];
  if (tbs?.tag !== SEQUENCE) return undefined;
  const extensions = childrenOf(der, tbs).find((element) => element.tag === EXTENSIONS_TAG);
  if (extensions === undefined) return undefined;
  const list = childrenOf(der, extensions)[0];
  if (list?.tag !== SEQUENCE) return undefined;
  for (const extension of childrenOf(der, list)) {
    const [oid, ...rest] = childrenOf(der, extension);
    if (oid?.tag !== OBJECT_ID || hex(der, oid) !== SUBJECT_KEY_ID_OID) continue;
    // extnValue (the last element) is an OCTET STRING wrapping the KeyIdentifier, itself an OCTET STRING.
    const value = rest[rest.length - 1];
    if (value?.tag !== OCTET_STRING) return undefined;
    const keyId = elementAt(der, value.start, value.end);
    return keyId?.tag === OCTET_STRING && keyId.end > keyId.start ? hex(der, keyId) : undefined;
  }
  return undefined;
}

function hex(der: Uint8Array, element: Element): string {
  return Buffer.from(der.subarray(element.start, element.end)).toString('hex');
}
