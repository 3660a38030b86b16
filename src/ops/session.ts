// Turns the global options into the Context operations run with; config is read here, once.
import { resolve } from 'node:path';
import { DEFAULT_CONFIG_DIR, loadGlobalSettings, loadInstanceSettings } from '../config/load.js';
import { globalSettingsFrom, parseRuntimeName, type GlobalSettings, type InstanceSettings } from '../config/settings.js';
import { existsSync } from 'node:fs';
import { ConfigError, MissingInputError, UsageError } from '../errors.js';
import { runningKernelRelease } from '../kernel/release.js';
import { createLogger, type Logger } from '../log/logger.js';
import { ContainerRuntime } from '../runtime/container-runtime.js';
import { DryRunRuntime } from '../runtime/dry-run-runtime.js';
import { HOST_WRITES, dryRunHostWrites } from '../host/host-writes.js';
import { deviceManagerNames, type Context } from './context.js';
import { resolveRegistry } from '../config/registry-settings.js';
import { DEFAULT_KEY_LOCATIONS } from '../signing/key-choice.js';
import type { DeviceManagers } from '../devices/manager.js';
import { environment } from '../environment.js';

// The global options every command accepts.
export interface GlobalOptions {
  readonly configDir?: string;
  readonly runtime?: string;
  readonly verbose?: boolean;
  readonly dryRun?: boolean;
}

// A command's view of kvc: the context, the global settings and a way to read an instance.
export interface Session {
  readonly ctx: Context;
  readonly global: GlobalSettings;
  readonly logger: Logger;
  // --dry-run: the context's adapters print what would change and change nothing (for the edge's own words).
  readonly dryRun: boolean;
  instance(name: string): Promise<InstanceSettings>;
}

// Reads kvc.conf, picks the runtime (--runtime, then KVC_CONTAINER_RUNTIME, then podman) and builds the context.
// `lenient`: a broken kvc.conf gives the defaults instead of an error (kvc check reports it itself).
export async function openSession(options: GlobalOptions, env: NodeJS.ProcessEnv = environment(), signal?: AbortSignal, lenient = false, deviceManagers?: DeviceManagers<Context, InstanceSettings>): Promise<Session> {
  const logger = createLogger({ verbose: options.verbose === true });
  const configDir = resolve(options.configDir ?? env['KVC_CONFIG_DIR'] ?? DEFAULT_CONFIG_DIR);
  if (!existsSync(configDir)) {
    const from = options.configDir !== undefined ? '--config-dir' : env['KVC_CONFIG_DIR'] !== undefined ? 'KVC_CONFIG_DIR' : 'the default';
    throw new MissingInputError(`the configuration folder ${configDir} (${from}) does not exist`, {
      hint: from === 'the default' ? 'install kvc (make install puts its configuration there), or give the folder with --config-dir' : 'give the folder that holds kvc.conf and <name>.conf',
    });
  }
  const global = await loadGlobalSettings(configDir).catch((error: unknown) => {
    if (lenient && error instanceof ConfigError) return globalSettingsFrom([]);
    throw error;
  });
  for (const warning of global.warnings) logger.warn(warning);
  let runtimeName = global.runtime;
  if (options.runtime !== undefined) {
    try {
      runtimeName = parseRuntimeName(options.runtime, '--runtime');
    } catch {
      throw new UsageError(`--runtime must be podman or docker, not ${JSON.stringify(options.runtime)}`);
    }
  }
  // --dry-run: chosen here, once. The dry-run adapters print what would run (commands on stdout,
  // host writes in the log) and change nothing; the operations never ask whether this is one.
  const real = new ContainerRuntime(runtimeName, { logger, env });
  const dryRun = options.dryRun === true;
  const ctx: Context = {
    configDir,
    runtime: dryRun ? new DryRunRuntime(real) : real,
    host: dryRun ? dryRunHostWrites((line) => logger.info(`dry run: ${line}`)) : HOST_WRITES,
    logger,
    hostRoot: env['KVC_HOST_ROOT'] ?? '/',
    runDir: env['KVC_RUN_DIR'] ?? '/run/kvc',
    logDir: env['KVC_LOG_DIR'] ?? '/var/log/kvc',
    stateDir: env['KVC_STATE_DIR'] ?? '/var/lib/kvc',
    runningKernel: env['KVC_RUNNING_KERNEL'] ?? runningKernelRelease(),
    keys: { keyDir: env['KVC_KEY_DIR'] ?? DEFAULT_KEY_LOCATIONS.keyDir, dkmsDir: env['KVC_DKMS_DIR'] ?? DEFAULT_KEY_LOCATIONS.dkmsDir },
    signingKey: global.signingKey,
    registry: global.registry,
    interactive: process.stderr.isTTY === true,
    ...(signal === undefined ? {} : { signal }),
    ...(deviceManagers === undefined ? {} : { deviceManagers }),
  };
  return {
    ctx,
    global,
    logger,
    dryRun,
    instance: async (name) => {
      const settings = await loadInstanceSettings(configDir, name, deviceManagerNames(ctx));
      // KVC_IMAGE_REPO (the instance's or kvc.conf's) without a verification key, or with docker: refused here.
      resolveRegistry(global.registry, settings.registry, runtimeName);
      for (const warning of settings.warnings) logger.warn(warning);
      return settings;
    },
  };
}
