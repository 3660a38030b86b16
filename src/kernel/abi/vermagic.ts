// Compares a module's vermagic with the kernel's, byte for byte: the release (LOCALVERSION
// included) and every flag (SMP, preempt, mod_unload, modversions, RANDSTRUCT_<seed hash>…).

// Where two vermagic strings part, in words; undefined when they are the same byte for byte.
export function vermagicDifference(kernel: string, module: string): string | undefined {
  if (kernel === module) return undefined;
  const kernelWords = kernel.trim().split(/\s+/);
  const moduleWords = module.trim().split(/\s+/);
  if (kernelWords[0] !== moduleWords[0]) return `it was built for release ${moduleWords[0] ?? '(none)'}, the kernel is ${kernelWords[0] ?? '(none)'}`;
  const missing = kernelWords.slice(1).filter((word) => !moduleWords.includes(word));
  const extra = moduleWords.slice(1).filter((word) => !kernelWords.includes(word));
  if (missing.length > 0 || extra.length > 0) {
    return [missing.length > 0 ? `it lacks ${missing.join(' ')}` : '', extra.length > 0 ? `it has ${extra.join(' ')}, which the kernel has not` : ''].filter((part) => part !== '').join('; ');
  }
  const at = [...kernel].findIndex((char, index) => module[index] !== char);
  return `the same words, other bytes (first difference at byte ${at < 0 ? kernel.length : at}): "${module}" against the kernel's "${kernel}"`;
}
