// Parses `modinfo` output (one or more modules, each record starting with "filename:").

// The fields of one module kvc uses.
export interface ModInfo {
  readonly filename: string;
  readonly name: string;
  readonly vermagic: string;
  readonly version: string | undefined;
  readonly depends: readonly string[];
  // Its signature, when it has one: the signer (the certificate issuer's CN), sig_key (the serial,
  // "AB:CD:…") and sig_hashalgo.
  readonly signer?: string | undefined;
  readonly sigKey?: string | undefined;
  readonly sigHashAlgo?: string | undefined;
}

// Splits modinfo's text into one record per module. Pure, for tests.
export function parseModinfo(text: string): ModInfo[] {
  const records: Map<string, string[]>[] = [];
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_.-]*):\s*(.*)$/.exec(line);
    if (match === null) continue;
    const field = match[1] as string;
    const value = (match[2] as string).trim();
    if (field === 'filename' || records.length === 0) records.push(new Map());
    const record = records[records.length - 1] as Map<string, string[]>;
    record.set(field, [...(record.get(field) ?? []), value]);
  }
  return records.map((record) => {
    const one = (field: string) => record.get(field)?.[0];
    const filename = one('filename') ?? '';
    const base = filename.split('/').pop() ?? '';
    return {
      filename,
      name: (one('name') ?? base.replace(/\.ko(\.(xz|gz|zst))?$/, '')).replaceAll('-', '_'),
      vermagic: one('vermagic') ?? '',
      version: one('version'),
      depends: (one('depends') ?? '').split(',').map((dep) => dep.trim()).filter((dep) => dep !== ''),
      signer: one('signer'),
      sigKey: one('sig_key'),
      sigHashAlgo: one('sig_hashalgo'),
    };
  });
}

// The kernel release a module was built for: the first word of its vermagic.
export function vermagicRelease(info: ModInfo): string {
  return info.vermagic.split(/\s+/)[0] ?? '';
}

// What is wrong with an image's modules for kver and version; an empty list when nothing is.
export function checkModules(wanted: readonly string[], infos: readonly ModInfo[], kver: string, version: string): string[] {
  const problems: string[] = [];
  for (const module of wanted) {
    const canonical = module.replaceAll('-', '_');
    const info = infos.find((candidate) => candidate.name === canonical);
    if (info === undefined) {
      problems.push(`${module} is not in the image`);
      continue;
    }
    const built = vermagicRelease(info);
    if (built !== kver) problems.push(`${module} was built for ${built || 'no kernel'} (vermagic), not ${kver}`);
    if (info.version !== undefined && info.version !== version) {
      problems.push(`${module} has version ${info.version}, not KMOD_SOFTWARE_VERSION ${version}`);
    }
  }
  return problems;
}
