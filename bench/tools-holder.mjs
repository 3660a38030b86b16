// Starts or stops the usbip tools container the way `kvc load` does (ops/tools.js), for the
// benchmark on a host whose kernel cannot load modules: bench/tools-holder.mjs start|stop RUN_DIR KVER;
// `record STATE_DIR KVER` writes the host command's tool-run record as `kvc build` does.
import { createLogger } from '../lib/log/logger.js';
import { ContainerRuntime } from '../lib/runtime/container-runtime.js';
import { loadInstanceSettings } from '../lib/config/load.js';
import { startTools, stopTools } from '../lib/ops/tools.js';
import { recordToolRun } from '../lib/ops/tool-run-record.js';

const [action, runDir, kver] = process.argv.slice(2);
const logger = createLogger({ style: 'plain' });
const ctx = { configDir: 'host/etc/kvc', logger, runtime: new ContainerRuntime('podman', { logger }), hostRoot: '/', runDir, runningKernel: kver, interactive: false };
if (action === 'record') await recordToolRun({ ...ctx, stateDir: runDir }, await loadInstanceSettings('host/etc/kvc', 'usbip'), kver);
else if (action === 'start') await startTools(ctx, await loadInstanceSettings('host/etc/kvc', 'usbip'), kver);
else await stopTools(ctx, 'usbip');
