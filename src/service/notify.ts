// Tells systemd about the service's state (sd_notify) through systemd-notify(1); a no-op outside a unit.
import { execa } from 'execa';
import type { Logger } from '../log/logger.js';
import { environment } from '../environment.js';

// The sd_notify messages kvc sends.
export interface NotifyMessage {
  readonly ready?: boolean;
  readonly stopping?: boolean;
  readonly status?: string;
}

// Sends one message; the unit needs NotifyAccess=all because systemd-notify is a child process.
export async function notifySystemd(message: NotifyMessage, logger: Logger, env: NodeJS.ProcessEnv = environment()): Promise<void> {
  if (env['NOTIFY_SOCKET'] === undefined || env['NOTIFY_SOCKET'] === '') return;
  const args: string[] = [];
  if (message.ready === true) args.push('--ready');
  if (message.stopping === true) args.push('STOPPING=1');
  if (message.status !== undefined) args.push(`--status=${message.status.replace(/\n/g, ' ')}`);
  const result = await execa('systemd-notify', args, { reject: false, env });
  if (result.exitCode !== 0) logger.warn(`systemd-notify failed: ${String(result.stderr).trim()}`);
}
