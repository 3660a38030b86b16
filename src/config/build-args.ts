// KVC_BUILD_ARGS: an instance's own build arguments for its Containerfile (beside kvc's KVER and
// KMODVER), validated once here, and their canonical form, which kvc records on the image it
// builds (the IMAGE_LABEL.buildArgs label, src/images/labels.ts) to tell an image built with other arguments.
import { ConfigError } from '../errors.js';

// NAME=VALUE pairs, in the order the conf lists them.
export type BuildArgs = Readonly<Record<string, string>>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// A value is one word: no whitespace, no control characters (it is passed as one argument and
// recorded in a label).
const VALUE = /^[^\s\p{Cc}]*$/u;
// The arguments kvc itself passes to every build.
export const RESERVED_BUILD_ARGS = ['KVER', 'KMODVER', 'KVC_SIGNER'] as const;

const KEY = 'KVC_BUILD_ARGS';
const EXAMPLE = 'write e.g. KVC_BUILD_ARGS="USBIP_VHCI_NR_HCS=16 USBIP_VHCI_HC_PORTS=15"';

// Parses the key's value (space-separated NAME=VALUE pairs); every error names the pair and the fix.
export function parseBuildArgs(value: string, confPath: string): BuildArgs {
  const args: Record<string, string> = {};
  for (const pair of value.split(/\s+/).filter((word) => word !== '')) {
    const equals = pair.indexOf('=');
    const name = equals < 0 ? pair : pair.slice(0, equals);
    const argValue = equals < 0 ? '' : pair.slice(equals + 1);
    if (equals < 0 || !NAME.test(name)) {
      throw new ConfigError(confPath, KEY, `${JSON.stringify(pair)} is not NAME=VALUE (a name of letters, digits and _, not starting with a digit)`, { hint: EXAMPLE });
    }
    if ((RESERVED_BUILD_ARGS as readonly string[]).includes(name)) {
      throw new ConfigError(confPath, KEY, `sets ${name}, which kvc passes itself (the kernel release, KMOD_SOFTWARE_VERSION, the signing key's id)`, {
        hint: `remove ${name} from ${KEY}: the kernel comes from \`kvc build <name> <kver>\`, the version from KMOD_SOFTWARE_VERSION, the key from kvc key status`,
      });
    }
    if (!VALUE.test(argValue)) throw new ConfigError(confPath, KEY, `the value of ${name} has a control character`, { hint: EXAMPLE });
    if (Object.hasOwn(args, name)) throw new ConfigError(confPath, KEY, `sets ${name} twice`, { hint: `give ${name} one value` });
    args[name] = argValue;
  }
  return args;
}

// The canonical form: NAME=VALUE pairs sorted by name, one space apart ('' for none).
export function canonicalBuildArgs(args: BuildArgs): string {
  return Object.keys(args).sort().map((name) => `${name}=${args[name] ?? ''}`).join(' ');
}

// Why an image whose label recorded `recorded` is stale for `wanted`, or undefined when it is not.
// An image built before kvc recorded build arguments has no label: it was built with none.
export function buildArgsMismatch(recorded: string | undefined, wanted: BuildArgs): string | undefined {
  const was = recorded ?? '';
  const now = canonicalBuildArgs(wanted);
  if (was === now) return undefined;
  const show = (text: string): string => (text === '' ? 'none' : `"${text}"`);
  return `it was built with build args ${show(was)}, ${KEY} now says ${show(now)}`;
}

// What an image is built from besides the kernel and version: the canonical build args and, for a
// local context, its recipe digest (src/config/recipe.ts), as one string: "ARGS @recipe=DIGEST".
// '@' starts no NAME, so the recipe part cannot be mistaken for a pair.
export function buildIdentity(args: BuildArgs, recipe: string | undefined): string {
  const canonical = canonicalBuildArgs(args);
  return recipe === undefined ? canonical : `${canonical}${canonical === '' ? '' : ' '}@recipe=${recipe}`;
}

// The identity an image's labels record (an image from before kvc recorded its recipe has none).
export function identityFromLabels(buildArgsLabel: string | undefined, recipeLabel: string | undefined): string {
  const args = buildArgsLabel ?? '';
  return recipeLabel === undefined ? args : `${args}${args === '' ? '' : ' '}@recipe=${recipeLabel}`;
}

// The identity an instance's images must have.
export function wantedIdentity(settings: { readonly buildArgs: BuildArgs; readonly context?: { readonly kind: string; readonly recipe?: string } }): string {
  return buildIdentity(settings.buildArgs, settings.context?.kind === 'dir' ? settings.context.recipe : undefined);
}

function splitIdentity(identity: string): { args: string; recipe: string | undefined } {
  const at = identity.indexOf('@recipe=');
  return at < 0 ? { args: identity.trim(), recipe: undefined } : { args: identity.slice(0, at).trim(), recipe: identity.slice(at + '@recipe='.length) };
}

// Why an image recorded as `recorded` is stale for `wanted` (both identities), or undefined. A
// recipe is compared only where the instance has one (a local context); an image without one was
// built by a kvc that did not record it, from files kvc cannot vouch for: stale.
export function buildMismatch(recorded: string | undefined, wanted: string): string | undefined {
  const was = splitIdentity(recorded ?? '');
  const now = splitIdentity(wanted);
  const args = buildArgsMismatch(was.args, Object.fromEntries(now.args.split(' ').filter((pair) => pair !== '').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)])));
  if (args !== undefined) return args;
  if (now.recipe === undefined || was.recipe === now.recipe) return undefined;
  return was.recipe === undefined
    ? 'it was built before kvc recorded what it is built from (its Containerfile and the files beside it)'
    : `it was built from another version of its Containerfile and the files beside it (digest ${was.recipe}, now ${now.recipe})`;
}
