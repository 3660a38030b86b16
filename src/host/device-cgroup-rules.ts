// Device cgroup rules (what `--device-cgroup-rule` sets, and the OCI spec's
// linux.resources.devices): which device numbers a container's processes may open. Pure.

// A block (b) or character (c) device.
export type DeviceType = 'b' | 'c';

// A device by its numbers: block or character, major:minor.
export interface DeviceId {
  readonly type: DeviceType;
  readonly major: number;
  readonly minor: number;
}

// One rule; an undefined major or minor is `*` (any), type `a` is block and character.
export interface DeviceRule {
  readonly allow: boolean;
  readonly type: 'a' | DeviceType;
  readonly major: number | undefined;
  readonly minor: number | undefined;
  // Letters of r (read), w (write), m (mknod).
  readonly access: string;
}

const RULE_TEXT = /^([abc]) (\*|\d+):(\*|\d+) ([rwm]{1,3})$/;

// An allow rule as `--device-cgroup-rule` takes it ("c 188:* rw"), or undefined when it is not one.
export function parseRuleText(text: string): DeviceRule | undefined {
  const match = RULE_TEXT.exec(text.trim());
  if (match === null) return undefined;
  const number = (part: string): number | undefined => (part === '*' ? undefined : Number(part));
  return { allow: true, type: match[1] as DeviceRule['type'], major: number(match[2]!), minor: number(match[3]!), access: match[4]! };
}

// The rule as `--device-cgroup-rule` writes it (deny rules prefixed with "deny ").
export function formatRule(rule: DeviceRule): string {
  const number = (value: number | undefined): string => (value === undefined ? '*' : String(value));
  return `${rule.allow ? '' : 'deny '}${rule.type} ${number(rule.major)}:${number(rule.minor)} ${rule.access}`;
}

// The device as `ls -l` and the rules write it: "b 7:0".
export function formatDevice(device: DeviceId): string {
  return `${device.type} ${device.major}:${device.minor}`;
}

function matches(rule: DeviceRule, device: DeviceId): boolean {
  return (rule.type === 'a' || rule.type === device.type)
    && (rule.major === undefined || rule.major === device.major)
    && (rule.minor === undefined || rule.minor === device.minor);
}

// Whether the rules let the container `access` (e.g. "rw") the device. Rules apply in order, a
// later one overriding an earlier one (as runc applies them); no matching rule is a denial.
export function rulesAllow(rules: readonly DeviceRule[], device: DeviceId, access = 'rw'): boolean {
  return [...access].every((letter) => {
    const last = rules.filter((rule) => matches(rule, device) && rule.access.includes(letter)).pop();
    return last?.allow === true;
  });
}

// The allow rules that cover the device: what the container may open of it and of its neighbours.
export function allowRulesFor(rules: readonly DeviceRule[], device: DeviceId): DeviceRule[] {
  return rules.filter((rule) => rule.allow && matches(rule, device));
}
