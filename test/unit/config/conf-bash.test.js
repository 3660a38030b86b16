// Property test against bash itself (fast-check): random kmods-via-containers style files of
// assignments, quotes, escapes and comments. For every file kvc accepts, its values are the ones
// `bash -c 'set -a; . FILE'` reads; every file kvc refuses gives a one-line ConfigError. The
// generated text never holds a command bash could run to any effect (only ":" and "true").
import { expect } from 'chai';
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfText } from '../../../lib/config/conf-file.js';
import { ConfigError } from '../../../lib/errors.js';

const KEYS = ['KMOD_CONTAINER_BUILD_CONTEXT', 'KMOD_SOFTWARE_VERSION', 'KMOD_NAMES', 'A'];
const plain = fc.constantFrom('a', 'Z', '0', '9', '.', '_', '-', '/', ':', '=', '#', '%', '@', '+', ',', '*', '?', '[', ']', '{', '}', '!', '^', 'true', 'git://h/r.git#v1.2', '\\u002d', ';c');
const inner = fc.constantFrom('a', ' ', '#', '$', '\\', '`', '"', "'", ';', 'x y', '\\n', '\\$', '\\"', '\\\\', '*', '~', '\t');
const piece = fc.oneof(
  { weight: 4, arbitrary: plain },
  fc.array(inner, { maxLength: 4 }).map((parts) => `'${parts.join('').replaceAll("'", '')}'`),
  fc.array(inner, { maxLength: 4 }).map((parts) => `"${parts.join('').replaceAll('"', '\\"').replaceAll('`', '').replaceAll('$', '\\$')}"`),
  fc.constantFrom('\\a', '\\ ', '\\#', '\\\\', '\\"', "\\'", '\\$'),
  fc.constantFrom('$X', '~', ' b', ' # note', '  #', ';:', '&&:', '|:', ' B=1', '"', "'", '(', '\t'),
);
const line = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom('', 'export ', '  '), fc.constantFrom(...KEYS), fc.array(piece, { maxLength: 5 })).map(([prefix, key, parts]) => `${prefix}${key}=${parts.join('')}`) },
  fc.constantFrom('', '# comment', '   # indented comment', '; not a comment in bash', 'A = 1', ':'),
);
const file = fc.uniqueArray(line, { maxLength: 6, selector: (l) => /^\s*(?:export )?(\w+)=/.exec(l)?.[1] ?? l });

// What bash reads from the file: each key's value, or undefined when unset.
function bashReads(path) {
  const script = `set -a; . "$1" >/dev/null 2>&1; for k in ${KEYS.join(' ')}; do if [ "\${!k+x}" = x ]; then printf '%s=%s\\0' "$k" "\${!k}"; fi; done`;
  const result = spawnSync('bash', ['-c', script, '_', path], { env: {}, encoding: 'utf8' });
  return Object.fromEntries(result.stdout.split('\0').filter((x) => x !== '').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]));
}

describe('conf files read as bash reads them (fast-check against real bash)', function () {
  this.timeout(120000);
  let dir;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-bash-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('every accepted file has bash\'s values; every refused one a one-line ConfigError', () => {
    let accepted = 0;
    fc.assert(fc.property(file, (lines) => {
      const text = `${lines.join('\n')}\n`;
      let entries;
      try {
        entries = parseConfText('/etc/kvc/x.conf', text);
      } catch (error) {
        expect(error).to.be.instanceOf(ConfigError);
        expect(error.message).to.not.include('\n');
        return;
      }
      accepted++;
      const path = join(dir, 'x.conf');
      writeFileSync(path, text);
      const ours = Object.fromEntries([...entries].map(([key, entry]) => [key, entry.value]));
      expect(ours, text).to.deep.equal(bashReads(path));
    }), { numRuns: 400, seed: 20261124 });
    expect(accepted, 'enough accepted files to compare').to.be.greaterThan(100);
  });
});
