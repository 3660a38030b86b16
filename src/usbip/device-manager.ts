// USB/IP's device manager: what kvc@usbip runs while the modules are loaded, from the devices file
// beside usbip.conf: the exports (usbipd, binds) and the imports (attached and kept).
import { join } from 'node:path';
import type { Context } from '../ops/context.js';
import { sysRoot } from '../ops/context.js';
import type { InstanceSettings } from '../config/settings.js';
import { assertTrusted } from '../config/trust.js';
import { readDevicesFile, type DevicesConfig } from './devices-file.js';
import { Exporter, type ExportedState } from './exporter.js';
import { Importer, type DeviceConsumer, type ImportState } from './importer.js';
import { usbipIn } from './usbip-tool.js';
import { removeDevicesState, writeDevicesState } from './devices-state.js';
import { containerConsumer } from './container-consumer.js';

export const POLL_MS = 1000;
export const RETRY_BASE_MS = 1000;
export const RETRY_MAX_MS = 30_000;

export interface UsbipDevicesState {
  readonly pid: number;
  readonly updated: string;
  readonly file: string;
  readonly exported: readonly ExportedState[];
  readonly missing: readonly string[];
  readonly imports: readonly ImportState[];
}

export function devicesFilePath(ctx: Pick<Context, 'configDir'>, instance: string): string {
  return join(ctx.configDir, `${instance}.devices`);
}

// Reads the file (validated here, once) and starts what it asks for; undefined when there is none.
export async function startUsbipDevices(ctx: Context, settings: InstanceSettings, toolsPid: number, signal: AbortSignal): Promise<{ close(): Promise<void> } | undefined> {
  const { logger } = ctx;
  const path = devicesFilePath(ctx, settings.name);
  const config: DevicesConfig | undefined = await readDevicesFile(path);
  if (config === undefined) {
    logger.info(`no ${path}: no USB/IP devices are exported or imported by the service`);
    return undefined;
  }
  assertTrusted(path, path, undefined);
  // Not cancelled by the signal: the detaches on stop run after it.
  const usbip = usbipIn(toolsPid);
  const sys = sysRoot(ctx);
  let exporter: Exporter | undefined;
  let importer: Importer | undefined;
  const publish = (): void => {
    const state: UsbipDevicesState = {
      pid: process.pid,
      updated: new Date().toISOString(),
      file: path,
      exported: exporter?.state().exported ?? [],
      missing: exporter?.state().missing ?? [],
      imports: importer?.state() ?? [],
    };
    writeDevicesState(ctx, settings.name, state);
  };
  logger.info(`${path}: ${config.exports.length} device(s) to export, ${config.imports.length} to import`);
  if (config.exports.length > 0) {
    exporter = new Exporter({ sys, rules: config.exports, usbip, toolsPid, metadataPort: config.metadataPort, logger, signal, pollMs: POLL_MS, onChange: publish });
    await exporter.start();
  }
  if (config.imports.length > 0) {
    const consumer: DeviceConsumer | undefined = config.imports.some((rule) => rule.container !== undefined) ? containerConsumer(ctx, sys) : undefined;
    importer = new Importer({
      sys, toolsRoot: join(ctx.hostRoot, 'proc', String(toolsPid), 'root'), lockDir: join(ctx.runDir, settings.name, 'attach'),
      rules: config.imports, usbip, logger, signal, pollMs: POLL_MS, retryBaseMs: RETRY_BASE_MS, retryMaxMs: RETRY_MAX_MS,
      metadataPort: config.metadataPort, consumer, onChange: publish,
    });
    await importer.start();
  }
  publish();
  return {
    close: async () => {
      await importer?.close();
      await exporter?.close();
      removeDevicesState(ctx, settings.name);
    },
  };
}
