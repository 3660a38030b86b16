// `kvc check`'s line on which recipe a kernel gets and why (issue 21). Pure.
import type { RecipePlan } from '../kernel/abi/recipe-plan.js';
import type { CheckResult } from './checks.js';

// The verdict: ok when a recipe can build the kernel, warn (with what to get) when only a headers
// package the host does not show could.
export function recipeCheck(kver: string, plan: RecipePlan): CheckResult {
  const why = plan.reasons.join('; ');
  if (plan.recipe === 'headers') return { level: 'ok', topic: 'recipe', what: `kernel ${kver}: headers recipe (${why})` };
  if (plan.recipe === 'source') {
    return { level: 'ok', topic: 'recipe', what: `kernel ${kver}: headers recipe where the package sources have its headers package, else the header-less recipe (Containerfile.*-source) builds it (${why})` };
  }
  return {
    level: 'warn', topic: 'recipe',
    what: `kernel ${kver}: only a headers package in the package sources can build it (${why}); the header-less recipe lacks ${plan.missing.map((item) => item.what).join(', ')}`,
    todo: plan.missing.map((item) => item.remedy).join('; '),
  };
}
