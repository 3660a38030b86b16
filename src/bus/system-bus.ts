// Connects to the system D-Bus (dbus-next), or says in one line why there is none.
import { existsSync } from 'node:fs';
import type dbus from 'dbus-next';
import { KvcError, ExitStatus } from '../errors.js';
import { environment } from '../environment.js';

// No system bus here (a container, a chroot): the rest of kvc still works.
export class NoSystemBusError extends KvcError {
  override readonly exitStatus = ExitStatus.unavailable;
}

// The socket path of the system bus (DBUS_SYSTEM_BUS_ADDRESS, else the standard one); undefined
// for addresses that are not plain unix:path= (they are tried as they are).
export function systemBusSocket(env: NodeJS.ProcessEnv = environment()): string | undefined {
  const address = env['DBUS_SYSTEM_BUS_ADDRESS'];
  if (address === undefined || address === '') return '/run/dbus/system_bus_socket';
  const match = /^unix:path=([^,;]+)/.exec(address);
  return match?.[1];
}

// A connected system bus; throws NoSystemBusError when there is none.
export async function connectSystemBus(env: NodeJS.ProcessEnv = environment(), timeoutMs = 5000): Promise<dbus.MessageBus> {
  const socket = systemBusSocket(env);
  if (socket !== undefined && !existsSync(socket)) {
    throw new NoSystemBusError(`no system bus here (${socket} does not exist)`, { hint: 'systemd features need a host booted with systemd; build, load and unload work without it' });
  }
  // Loaded on demand: most commands never talk to systemd, and it is the runner's largest dependency after winston.
  const { default: dbusNext } = await import('dbus-next');
  const bus = dbusNext.systemBus();
  try {
    await withTimeout(bus.getProxyObject('org.freedesktop.DBus', '/org/freedesktop/DBus'), timeoutMs, 'the system bus did not answer');
  } catch (error) {
    bus.disconnect();
    throw new NoSystemBusError(`cannot use the system bus: ${error instanceof Error ? error.message : String(error)}`, { hint: 'is dbus running? build, load and unload work without it', cause: error });
  }
  return bus;
}

// Rejects when `promise` takes longer than `ms`.
export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
