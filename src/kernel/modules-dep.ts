// depmod's modules.dep and module paths, read into module names in the kernel's spelling. Pure.
import { kernelModuleName } from './module-state.js';

// A module's name from its path in modules.dep or modules.builtin ("kernel/x/usb-common.ko.xz" → usb_common).
export function moduleNameOfPath(path: string): string {
  return kernelModuleName((path.split('/').pop() ?? '').replace(/\.ko(\.(xz|gz|zst))?$/, ''));
}

// The modules modules.dep lists (each line "path: deps…"). Pure.
export function parseModulesDep(text: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter((dep) => dep !== '').map(moduleNameOfPath);
    graph.set(moduleNameOfPath(line.slice(0, colon).trim()), deps);
  }
  return graph;
}
