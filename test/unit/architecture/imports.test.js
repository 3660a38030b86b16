// The shape of src/: which folder may import which. It walks every import of every .ts file under
// src/ (static `from '…'` and dynamic `import('…')`) and fails on an arrow that points up the
// layers, on a payload (USB/IP) imported by anything but the program's edge, and on any cycle,
// between folders or between files.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

// Lower numbers sit lower: a folder imports only folders of a lower layer, or of its own layer
// when that makes no cycle. cli → service, kube → ops → {images, devices, kernel, config, …} →
// {runtime, host, bus} → {log, errors}.
export const LAYERS = {
  'errors.ts': 0, 'environment.ts': 0, log: 0,
  runtime: 1, host: 1, bus: 1,
  config: 2, kernel: 2, kmods: 2, signing: 2, images: 2, devices: 2, registry: 2,
  ops: 3,
  service: 4, kube: 4,
  usbip: 5,
  cli: 6,
};
// Payloads: folders only the program's edge (src/cli/) may import.
const PAYLOADS = ['usbip'];

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

// The files under src/ that `file` imports, as paths relative to src/ (".js" read as ".ts").
function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((match) => match[1]);
  return specs.map((spec) => relative(SRC, resolve(dirname(file), spec)).replace(/\.js$/, '.ts'));
}

const top = (path) => path.split('/')[0];

function graph() {
  const files = sourceFiles(SRC).map((file) => relative(SRC, file));
  return new Map(files.map((file) => [file, importsOf(join(SRC, file))]));
}

// Strongly connected components of more than one node (or a node importing itself): the cycles.
function cycles(edges) {
  let index = 0;
  const indexOf = new Map(), low = new Map(), stack = [], onStack = new Set(), found = [];
  const visit = (node) => {
    indexOf.set(node, index); low.set(node, index); index += 1;
    stack.push(node); onStack.add(node);
    for (const next of edges.get(node) ?? []) {
      if (!indexOf.has(next)) { visit(next); low.set(node, Math.min(low.get(node), low.get(next))); }
      else if (onStack.has(next)) low.set(node, Math.min(low.get(node), indexOf.get(next)));
    }
    if (low.get(node) === indexOf.get(node)) {
      const component = [];
      let member;
      do { member = stack.pop(); onStack.delete(member); component.push(member); } while (member !== node);
      if (component.length > 1 || (edges.get(node) ?? []).includes(node)) found.push(component.sort());
    }
  };
  for (const node of edges.keys()) if (!indexOf.has(node)) visit(node);
  return found;
}

describe('the shape of src/: imports point down the layers', () => {
  const imports = graph();

  it('every top-level folder of src/ has a layer', () => {
    const unknown = [...new Set([...imports.keys()].map(top))].filter((folder) => !(folder in LAYERS));
    expect(unknown, 'folders with no layer in this test').to.deep.equal([]);
  });

  it('no folder imports a folder of a higher layer', () => {
    const upward = [];
    for (const [file, targets] of imports) {
      for (const target of targets) {
        const from = top(file), to = top(target);
        if (from !== to && LAYERS[to] > LAYERS[from]) upward.push(`${file} → ${target}`);
      }
    }
    expect(upward, 'imports that point up').to.deep.equal([]);
  });

  it('a payload is imported only by the program\'s edge (src/cli/)', () => {
    const wrong = [];
    for (const [file, targets] of imports) {
      for (const target of targets) {
        if (PAYLOADS.includes(top(target)) && top(file) !== top(target) && top(file) !== 'cli') wrong.push(`${file} → ${target}`);
      }
    }
    expect(wrong).to.deep.equal([]);
  });

  it('no cycle between folders', () => {
    const folders = new Map();
    for (const [file, targets] of imports) {
      const from = top(file);
      if (!folders.has(from)) folders.set(from, new Set());
      for (const target of targets) if (top(target) !== from) folders.get(from).add(top(target));
    }
    expect(cycles(new Map([...folders].map(([folder, set]) => [folder, [...set]])))).to.deep.equal([]);
  });

  it('no cycle between files', () => {
    expect(cycles(imports)).to.deep.equal([]);
  });

  it('one place reads the environment and the command line (src/environment.ts)', () => {
    const readers = [...imports.keys()].filter((file) => file !== 'environment.ts' && /process\.(env|argv)\b/.test(readFileSync(join(SRC, file), 'utf8').replace(/\/\/.*$/gm, '')));
    expect(readers).to.deep.equal([]);
  });

  it('the walk sees what it should: a known downward import is found', () => {
    // Guards the walk itself: if the pattern stopped matching, every test above would pass.
    expect(imports.get('cli/main.ts') ?? imports.get('cli/program.ts')).to.satisfy((targets) => targets.some((target) => top(target) !== 'cli'));
  });
});
