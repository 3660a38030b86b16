// kvc check / kvc status: the recipe line reflects what an instance's .conf names of the kernel's
// inputs (KVC_KERNEL_SOURCE, KVC_KERNEL_CONFIG), in its facts, not only in its remedies (issue 21).
// A host root in a temporary folder: a kernel with its modules and no config of its own.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { namedKernelInputs, recipePlanFor } from '../../../lib/ops/recipe-facts.js';
import { recipeCheck } from '../../../lib/ops/checks.js';

describe('recipe facts: KVC_KERNEL_SOURCE / KVC_KERNEL_CONFIG of an instance', () => {
  let root;
  let ctx;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'kvc-recipe-facts-'));
    mkdirSync(join(root, 'lib/modules/6.6.87-custom/kernel/drivers'), { recursive: true });
    writeFileSync(join(root, 'lib/modules/6.6.87-custom/kernel/drivers/a.ko'), '');
    writeFileSync(join(root, 'linux-6.6.87.tar.xz'), 'x');
    writeFileSync(join(root, 'my.config'), 'CONFIG_MODULES=y\n');
    ctx = { hostRoot: root, runningKernel: 'other' };
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('names nothing: the config is missing, the source is the distribution package', async () => {
    expect(namedKernelInputs('usbip', {})).to.equal(undefined);
    const plan = await recipePlanFor(ctx, '6.6.87-custom', undefined);
    expect(plan.recipe).to.equal(undefined);
    expect(plan.missing.map((item) => item.what)).to.deep.equal(['the config of 6.6.87-custom']);
  });

  it('names both: the source recipe, with the source and config found where the .conf says', async () => {
    const named = namedKernelInputs('usbip', { source: join(root, 'linux-6.6.87.tar.xz'), config: join(root, 'my.config') });
    const plan = await recipePlanFor(ctx, '6.6.87-custom', named);
    expect(plan.recipe).to.equal('source');
    expect(plan.missing).to.deep.equal([]);
    const line = recipeCheck('6.6.87-custom', plan).what;
    expect(line).to.include(`config found: ${join(root, 'my.config')} (named with KVC_KERNEL_CONFIG in usbip.conf)`);
    expect(line).to.include(`source found: ${join(root, 'linux-6.6.87.tar.xz')} (KVC_KERNEL_SOURCE in usbip.conf)`);
    expect(line).to.include('the source recipe is chosen by KVC_KERNEL_SOURCE in usbip.conf');
  });

  it('names a source that is not there: says so, and how to fix it', async () => {
    const named = namedKernelInputs('usbip', { source: join(root, 'gone.tar.xz'), config: join(root, 'my.config') });
    const plan = await recipePlanFor(ctx, '6.6.87-custom', named);
    expect(plan.missing.map((item) => item.what)).to.deep.equal([`the kernel source ${join(root, 'gone.tar.xz')} (KVC_KERNEL_SOURCE in usbip.conf)`]);
    expect(plan.missing[0].remedy).to.match(/or correct KVC_KERNEL_SOURCE in usbip\.conf/);
    const check = recipeCheck('6.6.87-custom', plan);
    expect(check.level).to.equal('warn');
    expect(check.what).to.match(/header-less recipe .*which lacks the kernel source .*gone\.tar\.xz/);
  });
});
