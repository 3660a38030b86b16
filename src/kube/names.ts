// Names and labels the manifests use: image references, Kubernetes object names, node labels. Pure.
import { createHash } from 'node:crypto';
import { UsageError } from '../errors.js';

// Node Feature Discovery's label holding a node's kernel release.
export const NFD_KERNEL_LABEL = 'feature.node.kubernetes.io/kernel-version.full';

// Kubernetes' well-known label of a node's CPU architecture.
export const ARCH_LABEL = 'kubernetes.io/arch';

// The value NFD gives its kernel label: characters a label value may not hold become "_", and
// "-", "_", "." are trimmed from both ends (NFD's source/kernel), e.g. 6.12.117+deb12-amd64 →
// 6.12.117_deb12-amd64. Undefined when that is longer than a label value may be (63).
export function nfdKernelLabelValue(kver: string): string | undefined {
  const value = kver.replace(/[^-A-Za-z0-9_.]/g, '_').replace(/^[-_.]+|[-_.]+$/g, '');
  return value.length <= 63 ? value : undefined;
}

// Kubernetes' name for the architecture of Node's process.arch (the images are built for it).
export function kubeArch(nodeArch: string): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' } as Record<string, string>)[nodeArch] ?? nodeArch;
}

// A DNS-1123 label (lower case, digits, "-", at most 63) made from parts, e.g. kvc-usbip-6-1-0-56-amd64;
// a name cut short ends with a hash of the whole, so two kernels never share one.
export function dnsLabel(...parts: readonly string[]): string {
  const whole = parts.join('-').toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '');
  if (whole.length <= 63) return whole;
  const hash = createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 8);
  return `${whole.slice(0, 54).replace(/-+$/, '')}-${hash}`;
}

