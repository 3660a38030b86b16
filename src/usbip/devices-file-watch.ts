// The devices file watched while the service runs (inotify on its folder, so that an editor's
// write-and-rename is seen as well as a write in place): onChange once the writes settle.
import { watch } from 'node:fs';
import { basename, dirname } from 'node:path';

// Calls onChange (at most once per settleMs, after a burst of writes) until the signal aborts.
// Throws when the folder cannot be watched: the caller says that a restart is needed instead.
export function watchDevicesFile(path: string, onChange: () => void, signal: AbortSignal, settleMs = 200): void {
  const name = basename(path);
  watchSettled(dirname(path), (file) => file === null || file === name, onChange, signal, settleMs);
}

// A folder watched while the service runs (the WireGuard peers kvc keeps, one file each): onChange
// once the writes settle, whichever file changed. Throws when the folder cannot be watched.
export function watchFolder(dir: string, onChange: () => void, signal: AbortSignal, settleMs = 200): void {
  watchSettled(dir, () => true, onChange, signal, settleMs);
}

function watchSettled(dir: string, wanted: (file: string | null) => boolean, onChange: () => void, signal: AbortSignal, settleMs: number): void {
  let timer: NodeJS.Timeout | undefined;
  const watcher = watch(dir, { persistent: false }, (_event, file) => {
    if (!wanted(file)) return;
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
