// What `kvc kube module` and `kvc kube daemonset` share: their options, checked once.
import { Option, type Command } from 'commander';
import { UsageError } from '../../errors.js';
import type { ManifestFormat } from '../../kube/output.js';
import { checkImageRepo } from '../../images/names.js';

// The options as commander gives them.
export interface RawKubeOptions {
  readonly imageRepo?: string;
  readonly output: string;
  readonly namespace: string;
  readonly nodeSelector: readonly string[];
}

// The options, validated.
export interface KubeOptions {
  readonly repo: string | undefined;
  readonly format: ManifestFormat;
  readonly namespace: string;
  readonly nodeSelector: Readonly<Record<string, string>>;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;

// Adds --image-repo, --output, --namespace and --node-selector to a kube subcommand.
export function addKubeOptions(command: Command): Command {
  return command
    .option('--image-repo <repo>', 'registry and path the images were pushed to with `kvc push` (default: their local names, which only `podman kube play` on this host finds)')
    .addOption(new Option('-o, --output <format>', 'yaml or json').choices(['yaml', 'json']).default('yaml'))
    .option('--namespace <ns>', 'namespace of the objects', 'kvc')
    .option('--node-selector <key=value>', 'a further node label the pods require (repeatable)', (value: string, previous: string[]) => [...previous, value], [] as string[]);
}

// Checks the options: the repository, the namespace (a DNS label) and each key=value selector.
export function kubeOptionsFrom(raw: RawKubeOptions): KubeOptions {
  if (!DNS_LABEL.test(raw.namespace)) {
    throw new UsageError(`--namespace ${JSON.stringify(raw.namespace)} is not a namespace name`, { hint: 'lower-case letters, digits and "-", at most 63, e.g. kvc' });
  }
  const nodeSelector: Record<string, string> = {};
  for (const pair of raw.nodeSelector) {
    const at = pair.indexOf('=');
    const key = at < 0 ? pair : pair.slice(0, at);
    const value = at < 0 ? '' : pair.slice(at + 1);
    if (at < 0 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
      throw new UsageError(`--node-selector ${JSON.stringify(pair)} is not a label key=value`, { hint: 'write e.g. --node-selector node-role.kubernetes.io/worker=' });
    }
    nodeSelector[key] = value;
  }
  return {
    repo: raw.imageRepo === undefined ? undefined : checkImageRepo(raw.imageRepo),
    format: raw.output === 'json' ? 'json' : 'yaml',
    namespace: raw.namespace,
    nodeSelector,
  };
}
