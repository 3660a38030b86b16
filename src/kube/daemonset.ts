// A DaemonSet (apps/v1) that loads an instance's modules on the nodes of one kernel, for clusters
// without KMM. Pure.
import type { ToolsAccess } from '../config/kube-settings.js';
import { HOLD_SCRIPT, LOAD_SCRIPT, TOOLS_SCRIPT } from './pod-scripts.js';
import { ARCH_LABEL, NFD_KERNEL_LABEL, dnsLabel } from './names.js';

// What one DaemonSet is made from.
export interface DaemonSetInput {
  readonly name: string;
  readonly namespace: string;
  // KMOD_NAMES, in load order.
  readonly modules: readonly string[];
  readonly inTreeToRemove: readonly string[];
  // The tools' access to the node; a tools container is rendered when the instance has tools.
  readonly tools: ToolsAccess;
  readonly hasTools: boolean;
  readonly kver: string;
  // NFD's value of its kernel label on nodes of that kernel.
  readonly kernelLabel: string;
  // The image reference the pods pull.
  readonly image: string;
  readonly arch: string;
}

// The container a module is loaded and unloaded from: CAP_SYS_MODULE only (not privileged), no
// privilege escalation, a read-only root, the runtime's default seccomp profile, and SELinux type
// spc_t, since a confined container type may not load modules (kvc disables labelling likewise).
function moduleSecurity(): Record<string, unknown> {
  return {
    runAsUser: 0,
    capabilities: { drop: ['ALL'], add: ['SYS_MODULE'] },
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    seccompProfile: { type: 'RuntimeDefault' },
    seLinuxOptions: { type: 'spc_t' },
  };
}

// The tools' container: no capabilities at all (usbip needs none: uid 0 writes the root-owned sysfs
// files without any), no privilege escalation, a read-only root.
function toolsSecurity(): Record<string, unknown> {
  return {
    runAsUser: 0,
    capabilities: { drop: ['ALL'] },
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    seccompProfile: { type: 'RuntimeDefault' },
    seLinuxOptions: { type: 'spc_t' },
  };
}

// Volume names for the tools' mounts: node-sys for /sys, scratch-run for /run…
function volumeName(kind: string, path: string): string {
  return dnsLabel(kind, path === '/' ? 'root' : path);
}

// The volumes and the mounts of the tools' access.
export function toolsVolumes(tools: ToolsAccess): { volumes: Record<string, unknown>[]; mounts: Record<string, unknown>[] } {
  const volumes: Record<string, unknown>[] = [];
  const mounts: Record<string, unknown>[] = [];
  for (const mount of tools.mounts) {
    if (mount.kind === 'host') {
      const name = volumeName('node', mount.path);
      volumes.push({ name, hostPath: { path: mount.path, type: 'Directory' } });
      mounts.push({ name, mountPath: mount.path, readOnly: mount.readOnly });
    } else {
      const name = volumeName('scratch', mount.path);
      volumes.push({ name, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } });
      mounts.push({ name, mountPath: mount.path });
    }
  }
  return { volumes, mounts };
}

// The DaemonSet's name: kvc-<name>-<kernel>, as a DNS label.
export function daemonSetName(name: string, kver: string): string {
  return dnsLabel('kvc', name, kver);
}

// The DaemonSet: pods only on nodes of that kernel and architecture; an init container loads the
// modules, a long-running one unloads them when the pod stops, and, for an instance with tools, a
// tools container to `kubectl exec` into. Every taint is tolerated: the modules belong to the
// node's kernel, whatever else the node is for (control plane, drained for workloads…).
export function renderDaemonSet(input: DaemonSetInput): Record<string, unknown> {
  const name = daemonSetName(input.name, input.kver);
  const labels = { 'app.kubernetes.io/name': `kvc-${input.name}`, 'app.kubernetes.io/instance': name, 'app.kubernetes.io/managed-by': 'kvc' };
  const { volumes, mounts } = toolsVolumes(input.tools);
  const containers: Record<string, unknown>[] = [{
    name: 'modules',
    image: input.image,
    imagePullPolicy: 'IfNotPresent',
    command: ['/bin/sh', '-c', HOLD_SCRIPT, 'kvc-hold', ...[...input.modules].reverse()],
    securityContext: moduleSecurity(),
    // The pre-unload hook runs here with the tools' access.
    ...(mounts.length > 0 ? { volumeMounts: mounts.map((mount) => ({ ...mount })) } : {}),
    resources: { requests: { cpu: '1m', memory: '8Mi' }, limits: { memory: '64Mi' } },
  }];
  if (input.hasTools) {
    containers.push({
      name: 'tools',
      image: input.image,
      imagePullPolicy: 'IfNotPresent',
      command: ['/bin/sh', '-c', TOOLS_SCRIPT],
      securityContext: toolsSecurity(),
      ...(mounts.length > 0 ? { volumeMounts: mounts.map((mount) => ({ ...mount })) } : {}),
      resources: { requests: { cpu: '1m', memory: '8Mi' }, limits: { memory: '128Mi' } },
    });
  }
  const podSpec: Record<string, unknown> = {
    nodeSelector: { [NFD_KERNEL_LABEL]: input.kernelLabel, [ARCH_LABEL]: input.arch },
    tolerations: [{ operator: 'Exists' }],
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    ...(input.tools.hostNetwork ? { hostNetwork: true, dnsPolicy: 'ClusterFirstWithHostNet' } : {}),
    terminationGracePeriodSeconds: 30,
    initContainers: [{
      name: 'load',
      image: input.image,
      imagePullPolicy: 'IfNotPresent',
      command: ['/bin/sh', '-c', LOAD_SCRIPT, 'kvc-load', ...input.inTreeToRemove, '--', ...input.modules],
      securityContext: moduleSecurity(),
      resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { memory: '64Mi' } },
    }],
    containers,
    ...(volumes.length > 0 ? { volumes } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name, namespace: input.namespace, labels: { ...labels, 'io.kvc.kernel': input.kernelLabel } },
    spec: {
      selector: { matchLabels: { ...labels } },
      // One node at a time: a pod that fails to load leaves the others as they are.
      updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } },
      template: { metadata: { labels: { ...labels } }, spec: podSpec },
    },
  };
}
