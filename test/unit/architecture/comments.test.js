// Every exported name of src/ says what it is for: a `//` comment (or a JSDoc block) right above
// the export, or above the decorators/comment lines that lead to it.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../../src');

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

// The exports of `text` (file-level `export …` declarations, not re-exports) with no comment right above.
export function uncommentedExports(text) {
  const lines = text.split('\n');
  const missing = [];
  lines.forEach((line, index) => {
    const match = /^export (?:async )?(?:function|const|class|interface|type|enum|abstract class) (\w+)/.exec(line);
    if (match === null) return;
    const above = (lines[index - 1] ?? '').trim();
    if (!(above.startsWith('//') || above.endsWith('*/'))) missing.push(`${match[1]} (line ${index + 1})`);
  });
  return missing;
}

describe('the shape of src/: every export has a comment', () => {
  it('the check finds an export without one (it can fail)', () => {
    expect(uncommentedExports('// says what\nexport const a = 1;\n\nexport function b() {}\n')).to.deep.equal(['b (line 4)']);
  });

  it('every exported name in src/ has a one-line comment above it', () => {
    const missing = sourceFiles(SRC).flatMap((file) => uncommentedExports(readFileSync(file, 'utf8')).map((name) => `${relative(SRC, file)}: ${name}`));
    expect(missing).to.deep.equal([]);
  });
});
