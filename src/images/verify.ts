// Checks an image against the instance: built with its build args, and its modules present,
// built for the kernel, of the configured version, signed by the key kvc signs with now (`signer`).
import { buildMismatch, identityFromLabels, wantedIdentity } from '../config/build-args.js';
import type { InstanceSettings } from '../config/settings.js';
import { checkModules, parseModinfo } from '../kmods/modinfo.js';
import type { RuntimePort } from '../runtime/port.js';
import { signerMismatch, type Signer } from '../signing/signer.js';
import { readImageLabels } from './labels.js';

// The problems found (empty when the image is good). `labels` are the image's (from inspecting
// it); modinfo runs inside the image, with no privileges.
export async function imageProblems(runtime: Pick<RuntimePort, 'probe'>, settings: InstanceSettings, image: string, kver: string, labels: Readonly<Record<string, string>>, signer?: Signer): Promise<string[]> {
  const result = await runtime.probe(image, ['modinfo', '-k', kver, ...settings.modules]);
  const problems: string[] = [];
  const read = readImageLabels(labels);
  const stale = buildMismatch(read?.buildIdentity ?? identityFromLabels(undefined, undefined), wantedIdentity(settings));
  if (stale !== undefined) problems.push(stale);
  const resigned = signerMismatch(read?.signer, signer);
  if (resigned !== undefined) problems.push(resigned);
  const infos = parseModinfo(result.stdout);
  const moduleProblems = checkModules(settings.modules, infos, kver, settings.softwareVersion);
  if (result.exitCode !== 0 && moduleProblems.length === 0) {
    moduleProblems.push(`modinfo failed in the image: ${result.stderr.trim().split('\n').pop() ?? ''}`);
  }
  return [...problems, ...moduleProblems];
}
