// Unit tests: a local build context's recipe digest (real folders), and how an image's recorded
// build identity (build args and recipe) is compared with what the instance wants now.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { recipeDigest } from '../../../lib/config/recipe.js';
import { buildIdentity, buildMismatch, identityFromLabels } from '../../../lib/config/build-args.js';

describe('recipe digest of a build context', () => {
  let dir;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-recipe-'));
    writeFileSync(join(dir, 'Containerfile'), 'FROM scratch\n');
    mkdirSync(join(dir, 'patches'));
    writeFileSync(join(dir, 'patches', 'a.sed'), 's/a/b/\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const digest = () => recipeDigest(dir, join(dir, 'Containerfile'));

  it('is stable, and changes with any file\'s content, a new file, a renamed file or a link', () => {
    const first = digest();
    expect(first).to.match(/^[0-9a-f]{16}$/).and.equal(digest());
    const seen = new Set([first]);
    const step = (change) => { change(); const now = digest(); expect(seen.has(now), 'a change the digest missed').to.equal(false); seen.add(now); };
    step(() => writeFileSync(join(dir, 'patches', 'a.sed'), 's/a/c/\n'));
    step(() => writeFileSync(join(dir, 'pre-unload'), '#!/bin/sh\n'));
    step(() => { rmSync(join(dir, 'pre-unload')); writeFileSync(join(dir, 'pre-unload2'), '#!/bin/sh\n'); });
    step(() => symlinkSync('Containerfile', join(dir, 'link')));
  });

  it('leaves out what the image is not built from: hidden files, backups, the other Containerfiles', () => {
    const first = digest();
    writeFileSync(join(dir, '.Containerfile.swp'), 'x');
    writeFileSync(join(dir, 'Containerfile~'), 'x');
    writeFileSync(join(dir, '4913'), '');
    writeFileSync(join(dir, 'Containerfile.fedora'), 'FROM fedora\n');
    mkdirSync(join(dir, '.git'));
    writeFileSync(join(dir, '.git', 'FETCH_HEAD'), 'x');
    expect(digest()).to.equal(first);
    expect(recipeDigest(dir, join(dir, 'Containerfile.fedora'))).to.not.equal(first);
  });

  it('follows a Containerfile that is a link, and is undefined for a context it cannot read', () => {
    writeFileSync(join(dir, 'real'), 'FROM a\n');
    rmSync(join(dir, 'Containerfile'));
    symlinkSync('real', join(dir, 'Containerfile'));
    const a = digest();
    writeFileSync(join(dir, 'real'), 'FROM b\n');
    expect(digest()).to.not.equal(a);
    expect(recipeDigest(join(dir, 'missing'), join(dir, 'missing', 'Containerfile'))).to.equal(undefined);
  });

  it('takes in a Containerfile outside the context', () => {
    const outside = join(dir, '..', `${dir.split('/').pop()}.Containerfile`);
    writeFileSync(outside, 'FROM a\n');
    try {
      const a = recipeDigest(dir, outside);
      writeFileSync(outside, 'FROM b\n');
      expect(recipeDigest(dir, outside)).to.not.equal(a);
    } finally {
      rmSync(outside, { force: true });
    }
  });
});

describe('build identity: build args and recipe', () => {
  const wanted = buildIdentity({ N: '16' }, 'aaaa');
  it('an image of the same args and recipe is current', () => {
    expect(buildMismatch(identityFromLabels('N=16', 'aaaa'), wanted)).to.equal(undefined);
  });
  it('other build args are named first', () => {
    expect(buildMismatch(identityFromLabels('N=8', 'aaaa'), wanted)).to.include('build args "N=8"');
  });
  it('another recipe, or none recorded (an image of an older kvc), is stale, saying why', () => {
    expect(buildMismatch(identityFromLabels('N=16', 'bbbb'), wanted)).to.include('another version of its Containerfile').and.include('bbbb');
    expect(buildMismatch(identityFromLabels('N=16', undefined), wanted)).to.include('before kvc recorded');
  });
  it('an instance without a recipe (a URL context) compares build args only', () => {
    expect(buildMismatch(identityFromLabels('', 'bbbb'), buildIdentity({}, undefined))).to.equal(undefined);
    expect(buildMismatch(identityFromLabels(undefined, undefined), buildIdentity({}, undefined))).to.equal(undefined);
  });
});
