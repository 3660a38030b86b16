// Which recipe a kernel gets, and why: the headers recipe (the distribution's headers package for
// exactly that kernel) or the source recipe (the kernel's source of the exact version, its exact
// config, CRCs recovered from its installed modules), or none, with what is missing and how to get
// it. Pure: the facts are gathered elsewhere (ops/recipe-facts.ts) and passed in.
import type { ConfigCandidate } from './config-search.js';

// The recipes kvc knows.
export type RecipeKind = 'headers' | 'source';

// What kvc found out about one kernel.
export interface RecipeFacts {
  readonly kver: string;
  // The headers package for exactly kver, by name, when the package sources have it (or the host
  // has /lib/modules/K/build); undefined when there is none.
  readonly headers: string | undefined;
  // The kernel's config as found (config-search.ts); undefined when none.
  readonly config: ConfigCandidate | undefined;
  // The kernel's source: a distribution package of the exact version, or a path the user named.
  readonly source: string | undefined;
  // The installed modules of kver hold __versions to recover CRCs from (or a Module.symvers exists).
  readonly crcs: string | undefined;
  // The config sets RANDSTRUCT and the seed is not at hand: no build can match the layout.
  readonly randstructWithoutSeed: boolean;
  // KMOD_CONTAINER_BUILD_FILE or --kernel-source chose the recipe; undefined: automatic.
  readonly forced?: RecipeKind | undefined;
  // The kernel source an instance's .conf names (KVC_KERNEL_SOURCE): the path, who named it and
  // whether it is there. Named, it chooses the source recipe, as `kvc build --kernel-source` does.
  readonly namedSource?: { readonly path: string; readonly by: string; readonly present: boolean } | undefined;
}

// One thing missing for a recipe, and the remedy.
export interface Missing {
  readonly what: string;
  readonly remedy: string;
}

// The decision.
export interface RecipePlan {
  readonly recipe: RecipeKind | undefined;
  // Why, one reason a line (what was found).
  readonly reasons: readonly string[];
  // What is missing for the source recipe (all of it when there is no recipe).
  readonly missing: readonly Missing[];
}

// What the source recipe lacks for this kernel.
function sourceMissing(facts: RecipeFacts): Missing[] {
  const missing: Missing[] = [];
  if (facts.config === undefined) missing.push({ what: `the config of ${facts.kver}`, remedy: `install kernel ${facts.kver}'s image package (it has /boot/config-${facts.kver}), or name the config: --kernel-config FILE (on the running kernel: /proc/config.gz)` });
  if (facts.namedSource !== undefined && !facts.namedSource.present) missing.push({ what: `the kernel source ${facts.namedSource.path} (${facts.namedSource.by})`, remedy: `put the kernel's source tarball or folder at ${facts.namedSource.path}, or correct ${facts.namedSource.by}` });
  else if (facts.source === undefined) missing.push({ what: `the source of ${facts.kver}`, remedy: `add the package source that has the kernel's source package of the exact version, or name a source tree or tarball: --kernel-source PATH` });
  if (facts.crcs === undefined) missing.push({ what: `the symbol CRCs of ${facts.kver}`, remedy: `install the modules of kernel ${facts.kver} (their __versions hold the CRCs), or give its Module.symvers` });
  if (facts.randstructWithoutSeed) missing.push({ what: `the RANDSTRUCT seed of ${facts.kver}`, remedy: 'the kernel lays structures out with a secret seed (CONFIG_RANDSTRUCT): only its own build tree (scripts/basic/randstruct.seed) can build modules for it' });
  return missing;
}

// Picks the recipe: forced as asked; else headers when the package exists, else source when
// nothing it needs is missing, else none.
export function planRecipe(facts: RecipeFacts): RecipePlan {
  const reasons: string[] = [];
  reasons.push(facts.headers === undefined ? `no headers package for ${facts.kver}` : `headers found: ${facts.headers}`);
  if (facts.config !== undefined) reasons.push(`config found: ${facts.config.path} (${facts.config.why})`);
  if (facts.source !== undefined) reasons.push(`source found: ${facts.source}`);
  if (facts.crcs !== undefined) reasons.push(`CRCs from: ${facts.crcs}`);
  const missing = sourceMissing(facts);
  if (facts.forced === 'headers') return { recipe: 'headers', reasons: [...reasons, 'the headers recipe is chosen by configuration'], missing: [] };
  if (facts.namedSource !== undefined) return { recipe: 'source', reasons: [...reasons, `the source recipe is chosen by ${facts.namedSource.by}`], missing };
  if (facts.forced === 'source') return { recipe: 'source', reasons: [...reasons, 'the source recipe is chosen by configuration'], missing };
  if (facts.headers !== undefined) return { recipe: 'headers', reasons, missing: [] };
  if (missing.length === 0) return { recipe: 'source', reasons: [...reasons, 'building from the kernel source'], missing };
  return { recipe: undefined, reasons, missing };
}

// The plan in one line for kvc check and status.
export function describeRecipePlan(plan: RecipePlan): string {
  const head = plan.recipe === undefined ? 'no recipe can build for this kernel' : `${plan.recipe} recipe`;
  const missing = plan.missing.map((item) => `missing ${item.what}: ${item.remedy}`);
  return [`${head} (${plan.reasons.join('; ')})`, ...missing].join('; ');
}
