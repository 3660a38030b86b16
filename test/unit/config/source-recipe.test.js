// Unit tests: choosing the header-less recipe (issue 21): the sibling Containerfile.*-source, the
// words of a build that found no headers package, and kvc check's line on the recipe.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { saysNoHeadersPackage, sourceRecipeFile, sourceRecipeSettings } from '../../../lib/config/source-recipe.js';
import { planRecipe } from '../../../lib/kernel/abi/recipe-plan.js';
import { recipeCheck } from '../../../lib/ops/checks.js';

const REPO_CONTEXT = new URL('../../../host/etc/kvc/usbip/', import.meta.url).pathname;

describe('header-less recipe choice', () => {
  it('finds Containerfile.debian-source beside Containerfile.debian, and none beside itself', () => {
    expect(sourceRecipeFile(join(REPO_CONTEXT, 'Containerfile.debian'))).to.equal(join(REPO_CONTEXT, 'Containerfile.debian-source'));
    expect(sourceRecipeFile(join(REPO_CONTEXT, 'Containerfile.debian-source'))).to.equal(undefined);
    expect(sourceRecipeFile(join(REPO_CONTEXT, 'Containerfile.fedora'))).to.equal(undefined);
  });

  it('gives settings with the sibling and its own recipe digest; none for a URL context', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvc-src-'));
    try {
      writeFileSync(join(dir, 'Containerfile'), 'FROM a\n');
      writeFileSync(join(dir, 'Containerfile-source'), 'FROM b\n');
      const settings = { name: 'x', context: { kind: 'dir', path: dir, file: join(dir, 'Containerfile'), recipe: 'r1' } };
      const source = sourceRecipeSettings(settings);
      expect(source.context.file).to.equal(join(dir, 'Containerfile-source'));
      expect(source.context.recipe).to.match(/^[0-9a-f]{16}$/).and.not.equal('r1');
      expect(sourceRecipeSettings({ name: 'x', context: { kind: 'url', url: 'https://x', file: 'Containerfile' } })).to.equal(undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('knows the headers recipe\'s words for a kernel without a headers package', () => {
    expect(saysNoHeadersPackage('  | no linux-headers-6.1.0-99-amd64 in the apt sources: is 6.1.0-99-amd64 a Debian kernel')).to.equal(true);
    expect(saysNoHeadersPackage('no linux-source-6.1 6.1.176-1 in the apt sources')).to.equal(false);
  });

  it('does not take the failed step\'s own script for that line (any other failure of the step: no header-less fallback)', () => {
    // podman's error as seen in a run: a runtime failure of the builder step, whose message quotes
    // the step's script (the recipe's echo of the words, with ${KVER}).
    const podmanError = 'Error: identifier is not a container: building at STEP "RUN --mount=type=secret,id=kvc_sign_key set -e; '
      + 'test -n "${version}" || { echo "no linux-headers-${KVER} in the apt sources: is ${KVER} a Debian kernel, and are its suite\'s sources configured?" >&2; exit 1; };';
    expect(saysNoHeadersPackage(podmanError)).to.equal(false);
    expect(saysNoHeadersPackage(`  | [2/4] STEP 9/9: RUN set -e; echo "no linux-headers-\${KVER} in the apt sources" >&2\n  | make: *** [Makefile:1] Error 2`)).to.equal(false);
  });
});

describe('kvc check: the recipe line', () => {
  const config = { path: '/boot/config-K', why: 'installed with kernel K' };
  const facts = { kver: 'K', headers: undefined, config, source: 'linux-source-6.1', crcs: 'the __versions of 4023 modules', randstructWithoutSeed: false };

  it('is ok when a recipe can build the kernel, and says why', () => {
    const result = recipeCheck('K', planRecipe(facts));
    expect(result.level).to.equal('ok');
    expect(result.what).to.match(/else the header-less recipe .*config found: \/boot\/config-K/);
    expect(recipeCheck('K', planRecipe({ ...facts, headers: '/lib/modules/K/build on this host' })).what).to.match(/^kernel K: headers recipe \(headers found/);
  });

  it('warns, with what to get, when the header-less recipe lacks something', () => {
    const result = recipeCheck('K', planRecipe({ ...facts, config: undefined, crcs: undefined }));
    expect(result.level).to.equal('warn');
    expect(result.what).to.match(/lacks the config of K, the symbol CRCs of K/);
    expect(result.todo).to.match(/--kernel-config FILE.*install the modules of kernel K/);
  });
});
