// The devices file watched while the service runs (inotify on its folder, so that an editor's
// write-and-rename is seen as well as a write in place): onChange once the writes settle.
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';

// Calls onChange (at most once per settleMs, after a burst of writes) until the signal aborts.
// Throws when the folder cannot be watched: the caller says that a restart is needed instead.
export function watchDevicesFile(path: string, onChange: () => void, signal: AbortSignal, settleMs = 200): void {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
    if (file !== null && file !== name) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!signal.aborted) onChange();
    }, settleMs);
  });
  watcher.on('error', () => watcher.close());
  signal.addEventListener('abort', () => {
    clearTimeout(timer);
    watcher.close();
  }, { once: true });
}
