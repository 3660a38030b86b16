// The AppArmor confinement of an instance's tools and daemons: on a host where AppArmor is on,
// kvc loads its own profile (host/apparmor-profile.ts) and runs their containers under it, since
// the runtime's default profile denies the writes to /sys they exist for.
import type { InstanceSettings } from '../config/settings.js';
import { appArmorHost, loadProfile } from '../host/apparmor.js';
import { renderToolsProfile, toolsProfileName } from '../host/apparmor-profile.js';
import { hostWrites, type Context } from './context.js';

// What to do about AppArmor for an instance's tool containers, from the host's facts. Pure.
export type AppArmorPlan =
  | { readonly kind: 'none' }
  | { readonly kind: 'load'; readonly parser: string; readonly profile: string; readonly text: string }
  | { readonly kind: 'no-parser'; readonly warning: string };

// none: the kernel does not enforce AppArmor. load: it does, and kvc loads its profile. no-parser:
// it does but apparmor_parser is missing, so no profile (kvc's or the runtime's) can be loaded.
export function appArmorPlan(host: { enabled: boolean; parser: string | undefined }, settings: Pick<InstanceSettings, 'name' | 'toolsSysfsWrites'>, runtime: string): AppArmorPlan {
  if (!host.enabled) return { kind: 'none' };
  if (host.parser === undefined) {
    return {
      kind: 'no-parser',
      warning: `AppArmor is on but apparmor_parser is not installed: kvc cannot load its profile for ${settings.name}'s tools (${runtime === 'docker' ? 'docker then cannot start their containers' : 'podman then runs them without any AppArmor profile'}); install apparmor (Debian, Ubuntu: apt install apparmor)`,
    };
  }
  return { kind: 'load', parser: host.parser, profile: toolsProfileName(settings.name), text: renderToolsProfile(settings.name, settings.toolsSysfsWrites) };
}

// Loads kvc's profile for the instance when the host has AppArmor and returns its name for the
// containers' --security-opt; undefined when there is none to give. A profile the parser refuses
// throws (AppArmorError): the tools are not started under the runtime's profile instead.
export async function toolsAppArmor(ctx: Context, settings: InstanceSettings): Promise<string | undefined> {
  const plan = appArmorPlan(appArmorHost(ctx.hostRoot), settings, ctx.runtime.name);
  if (plan.kind === 'none') return undefined;
  if (plan.kind === 'no-parser') {
    ctx.logger.warn(plan.warning);
    return undefined;
  }
  await hostWrites(ctx).apply(`load the AppArmor profile ${plan.profile} (apparmor_parser --replace)`, () => loadProfile(plan.parser, plan.text, ctx.signal));
  ctx.logger.verbose(`AppArmor profile ${plan.profile} loaded for ${settings.name}'s tool containers`);
  return plan.profile;
}
