// Imports attached for a named container: once the device is attached, each device node the
// kernel makes for it (a disk and its partitions, a tty, hidraw…, found under its sysfs folder)
// is given to that container alone, through the core's device grants (its own /dev, nothing
// else); taken back when the device drops; and the device is detached when the container goes.
import { join } from 'node:path';
import type { Context } from '../ops/context.js';
import type { RuntimePort } from '../runtime/port.js';
import type { ContainerAccess } from '../runtime/parse.js';
import { grantAlive, grantDevice, revokeDevice, describeGrant, type DeviceGrant } from '../devices/grants.js';
import { accessRefusal } from '../devices/grant-checks.js';
import { listDeviceNodes, nodeNameFor, type DeviceNode } from '../kernel/device-nodes.js';
import { formatDevice } from '../host/device-cgroup-rules.js';
import { ContainerRefusedError } from '../errors.js';
import type { ImportRule } from './devices-file.js';
import type { UsbipConsumer } from './importer.js';

// The runtime, but each container inspected once for all the calls made through it (one look).
function inspectOnce(runtime: RuntimePort): RuntimePort {
  const answers = new Map<string, Promise<ContainerAccess | undefined>>();
  const inspectContainerAccess = (name: string): Promise<ContainerAccess | undefined> => {
    const answer = answers.get(name) ?? runtime.inspectContainerAccess(name);
    answers.set(name, answer);
    return answer;
  };
  return Object.assign(Object.create(runtime) as RuntimePort, { inspectContainerAccess });
}

const key = (node: DeviceNode): string => `${node.type} ${node.major}:${node.minor} ${node.devname ?? ''}`;

// How device nodes are handed over and taken back (src/devices/grants.ts; a unit test passes its own).
export interface GrantOps {
  readonly grantDevice: typeof grantDevice;
  readonly revokeDevice: typeof revokeDevice;
  readonly grantAlive: typeof grantAlive;
}

const GRANTS: GrantOps = { grantDevice, revokeDevice, grantAlive };

// The consumer of imports bound to a container (`container = NAME` in the devices file): the
// device is attached only while that container runs and may take it, its nodes (as they appear
// under `sys`) are made in the container's /dev, and taken back when it goes or the import ends.
export function containerConsumer(ctx: Context, sys: string, ops: GrantOps = GRANTS): UsbipConsumer {
  const { logger, runtime } = ctx;
  const { grantDevice, revokeDevice, grantAlive } = ops;
  // Per import: the grants made, and the nodes the container's rules do not allow (said once).
  const grants = new Map<string, Map<string, DeviceGrant>>();
  const skipped = new Map<string, Set<string>>();

  const release = async (rule: ImportRule): Promise<void> => {
    for (const grant of grants.get(rule.name)?.values() ?? []) {
      const result = await revokeDevice(grant).catch((error: unknown) => `not removed: ${(error as Error).message}`);
      logger.info(`import ${rule.name}: ${grant.path} taken back from container ${grant.container} (${result})`);
    }
    grants.delete(rule.name);
    skipped.delete(rule.name);
  };

  return {
    blocked: async (rule) => {
      const container = rule.container!;
      let access;
      try {
        access = await runtime.inspectContainerAccess(container);
      } catch (error) {
        return `container ${container} cannot be inspected (${(error as Error).message}); trying again`;
      }
      if (access === undefined) return `container ${container} does not exist; attached once it runs`;
      if (!access.running) return `container ${container} is not running; attached once it runs`;
      // Whatever the device turns out to be, these refusals hold for all of them; the cgroup rule
      // is checked per node when it is given.
      const refusal = accessRefusal(container, access, { type: 'b', major: 0, minor: 0 });
      if (refusal !== undefined && refusal.reason !== 'cgroup-rule') return `${refusal.message} (${refusal.hint ?? ''})`;
      return undefined;
    },

    grant: async (rule, localBusid) => {
      const container = rule.container!;
      const given = grants.get(rule.name) ?? new Map<string, DeviceGrant>();
      grants.set(rule.name, given);
      const refused = skipped.get(rule.name) ?? new Set<string>();
      skipped.set(rule.name, refused);
      const nodes = await listDeviceNodes(join(sys, 'bus/usb/devices', localBusid)).catch(() => [] as DeviceNode[]);
      // The nodes of one look are given after one inspect of the container (a runtime call of a
      // second or more under emulation; a USB disk has four nodes); each grant still checks the
      // container's process itself before it makes the node.
      const inspected = inspectOnce(runtime);
      for (const node of nodes) {
        if (node.devname === undefined || given.has(key(node)) || refused.has(key(node))) continue;
        try {
          const grant = await grantDevice(inspected, container, node, nodeNameFor(node.devname));
          given.set(key(node), grant);
          logger.info(`import ${rule.name}: ${describeGrant(grant)}`);
        } catch (error) {
          if (!(error instanceof ContainerRefusedError) || error.reason !== 'cgroup-rule') throw error;
          refused.add(key(node));
          logger.info(`import ${rule.name}: /dev/${node.devname} (${formatDevice(node)}) is not given to ${container}: its device cgroup rules do not allow it (${error.hint ?? ''})`);
        }
      }
      // A node the kernel took away (a partition gone, the disk re-read) is taken back too.
      for (const [id, grant] of given) {
        if (nodes.some((node) => key(node) === id)) continue;
        await revokeDevice(grant).catch(() => undefined);
        given.delete(id);
      }
    },

    gone: async (rule) => {
      const given = [...(grants.get(rule.name)?.values() ?? [])];
      if (given.length > 0) return !(await grantAlive(given[0]!));
      // A failed inspect (podman busy, a timeout) is not a container gone: the device stays.
      const access = await runtime.inspectContainerAccess(rule.container!).then((found) => ({ found }), () => undefined);
      if (access === undefined) return false;
      return access.found === undefined || !access.found.running;
    },

    release,
  };
}
