// Unit test: the end-to-end scripts tag images as kvc does. run.sh (host) and guest/checks.sh each
// carry a shell tag() of their own; each is run by sh on the same releases as imageTagFor.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { imageTagFor } from '../../../lib/images/names.js';
import fc from 'fast-check';

const SCRIPTS = ['test/e2e/run.sh', 'test/e2e/guest/checks.sh'];
const FIXED = ['6.1.0-56-amd64', '6.12.117+deb12-amd64', '6.1.0~rc1', '6.1.0+rc1', '6.1.0_rc1', '4.18.0-513.el8_9.x86_64', '6+~_+_~'];

// The script's one-line tag() definition.
function tagFunction(script) {
  const line = readFileSync(script, 'utf8').split('\n').find((l) => l.startsWith('tag() {'));
  expect(line, `${script} defines tag()`).to.be.a('string');
  return line;
}

// The tags sh's tag() prints for the releases, one call each.
function shellTags(script, releases) {
  const program = `${tagFunction(script)}\nfor kver in "$@"; do tag "$kver"; echo; done`;
  return execFileSync('sh', ['-c', program, 'sh', ...releases], { encoding: 'utf8' }).split('\n').slice(0, -1);
}

describe('the e2e scripts tag images as kvc does', () => {
  const sampled = fc.sample(fc.array(fc.constantFrom(...'09a._-+~_'), { maxLength: 20 }).map((c) => `6${c.join('')}`).filter((k) => !k.includes('..')), { numRuns: 300, seed: 25 });
  for (const script of SCRIPTS) {
    it(`${script}: the same tag as imageTagFor for each release`, () => {
      const releases = [...FIXED, ...sampled];
      expect(shellTags(script, releases)).to.deep.equal(releases.map(imageTagFor));
    });
  }
});
