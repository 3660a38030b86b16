// `systemctl reload kvc@<name>` (the unit's ExecReload= sends SIGHUP), as kvc's kernel hook
// (/etc/kernel/postinst.d/kvc, postrm.d/kvc) asks after a kernel package is installed or removed:
// the reconciler plans again now, besides what the watchers saw. Node's default for SIGHUP is to
// exit, so the handler is installed at the start; until the reconciler runs, the signal is only
// said (the start's own first pass plans for every installed kernel).
import type { Logger } from '../log/logger.js';
import type { FactsListener } from './boot-facts.js';

// What receives the signal: the process, or a stand-in in tests.
export interface SignalSource {
  on(signal: 'SIGHUP', listener: () => void): unknown;
  off(signal: 'SIGHUP', listener: () => void): unknown;
}

// Installs the SIGHUP handler; `target` gives the reconciler once it runs. Returns the remover.
export function onReload(source: SignalSource, logger: Logger, target: () => Pick<FactsListener, 'request'> | undefined): () => void {
  const listener = (): void => {
    const reconciler = target();
    if (reconciler === undefined) {
      logger.info('reload (SIGHUP): the start is not done; its first pass plans for every installed kernel');
      return;
    }
    logger.info('reload (SIGHUP): planning again for the installed kernels');
    reconciler.request('reload requested (SIGHUP)');
  };
  source.on('SIGHUP', listener);
  return () => source.off('SIGHUP', listener);
}
