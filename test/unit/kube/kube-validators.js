// Validates manifests offline as a cluster would: a KMM Module against KMM's own CRD schema (with
// unknown fields refused, as kubectl's strict field validation does) and the operator's webhook
// rules; a DaemonSet against Kubernetes' OpenAPI schemas (kubernetes-models) and the API server's
// checks those schemas do not hold. Each returns a list of problems, empty when the object is fine.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';

const CRD = parse(readFileSync(new URL('../../fixtures/kubernetes/kmm.sigs.x-k8s.io_modules.yaml', import.meta.url), 'utf8'));

// The CRD's schema with additionalProperties: false on every object that lists its properties and
// neither allows more nor preserves unknown fields: the API server would prune (and strict field
// validation refuse) a field it does not know, so a misspelt one must fail here.
function strict(schema) {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([key, value]) => [key, key === 'properties' ? Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, strict(sub)])) : strict(value)]));
  if (out.properties !== undefined && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  return out;
}

const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, strictRequired: false });
for (const keyword of ['x-kubernetes-int-or-string', 'x-kubernetes-list-map-keys', 'x-kubernetes-list-type', 'x-kubernetes-map-type', 'x-kubernetes-preserve-unknown-fields', 'x-kubernetes-validations']) ajv.addKeyword(keyword);
ajv.addFormat('int32', { type: 'number', validate: (n) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
ajv.addFormat('int64', { type: 'number', validate: (n) => Number.isSafeInteger(n) });
const version = CRD.spec.versions[0];
export const MODULE_VERSION = `${CRD.spec.group}/${version.name}`;
const validateModuleSchema = ajv.compile(strict(version.schema.openAPIV3Schema));

// KMM's admission webhook (internal/webhook/module.go) and the CRD's one CEL rule, as checks.
function webhookProblems(module) {
  const problems = [];
  const spec = module.spec ?? {};
  if ((module.metadata?.name ?? '').length + (module.metadata?.namespace ?? '').length > 40) problems.push('name and namespace longer than 40 together');
  if (spec.dra !== undefined && spec.devicePlugin !== undefined) problems.push('spec.dra and spec.devicePlugin are mutually exclusive');
  const container = spec.moduleLoader?.container;
  if (container === undefined) return problems;
  const hasTag = (image) => image.includes(':') || image.includes('@');
  if (container.inTreeModulesToRemove !== undefined && container.inTreeModuleToRemove) problems.push('inTreeModuleToRemove and inTreeModulesToRemove both set');
  if (container.containerImage && !hasTag(container.containerImage)) problems.push(`image without tag or digest: ${container.containerImage}`);
  (container.kernelMappings ?? []).forEach((mapping, index) => {
    if (mapping.regexp && mapping.literal) problems.push(`kernelMappings[${index}]: regexp and literal both set`);
    if (!mapping.regexp && !mapping.literal) problems.push(`kernelMappings[${index}]: neither regexp nor literal`);
    if (mapping.regexp) {
      try { new RegExp(mapping.regexp); } catch { problems.push(`kernelMappings[${index}]: invalid regexp`); }
    }
    if (!mapping.containerImage && !container.containerImage) problems.push(`kernelMappings[${index}]: no containerImage`);
    if (mapping.containerImage && !hasTag(mapping.containerImage)) problems.push(`kernelMappings[${index}]: image without tag or digest: ${mapping.containerImage}`);
    if (mapping.inTreeModulesToRemove !== undefined && mapping.inTreeModuleToRemove) problems.push(`kernelMappings[${index}]: both in-tree fields`);
    // KMM's webhook and signing job: without a build, the image to sign must be named; the job
    // needs both Secrets and something to sign, and must not push over the image it reads.
    const sign = mapping.sign ?? container.sign;
    if (sign !== undefined) {
      if (!mapping.build && !container.build && !sign.unsignedImage) problems.push(`kernelMappings[${index}]: sign without build needs unsignedImage`);
      if (!sign.keySecret?.name || !sign.certSecret?.name) problems.push(`kernelMappings[${index}]: sign without keySecret or certSecret`);
      if (!(sign.filesToSign?.length > 0)) problems.push(`kernelMappings[${index}]: sign with no filesToSign`);
      if (sign.unsignedImage && sign.unsignedImage === (mapping.containerImage ?? container.containerImage)) problems.push(`kernelMappings[${index}]: the signed image would replace the unsigned one`);
      if (sign.unsignedImage && !hasTag(sign.unsignedImage)) problems.push(`kernelMappings[${index}]: unsignedImage without tag or digest`);
    }
  });
  const modprobe = container.modprobe ?? {};
  const rawLoad = (modprobe.rawArgs?.load ?? []).length > 0;
  const rawUnload = (modprobe.rawArgs?.unload ?? []).length > 0;
  if (modprobe.moduleName) {
    if (rawLoad || rawUnload) problems.push('rawArgs set with moduleName');
  } else if (!rawLoad || !rawUnload) problems.push('neither moduleName nor both rawArgs');
  const order = modprobe.modulesLoadingOrder;
  if (order !== undefined) {
    if (order.length < 2) problems.push('modulesLoadingOrder with fewer than two modules');
    if (!modprobe.moduleName) problems.push('modulesLoadingOrder without moduleName');
    if (order[0] !== modprobe.moduleName) problems.push('modulesLoadingOrder does not start with moduleName');
    if (new Set(order).size !== order.length) problems.push('modulesLoadingOrder lists a module twice');
  }
  return problems;
}

// Problems of a Module: the CRD schema's, then the webhook's.
export function moduleProblems(module) {
  const problems = [];
  if (`${module.apiVersion}` !== MODULE_VERSION || module.kind !== CRD.spec.names.kind) problems.push(`not a ${MODULE_VERSION} ${CRD.spec.names.kind}`);
  if (!validateModuleSchema(module)) problems.push(...validateModuleSchema.errors.map((error) => `${error.instancePath || '/'} ${error.message}${error.params?.additionalProperty ? ` (${error.params.additionalProperty})` : ''}`));
  return [...problems, ...webhookProblems(module)];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

// Problems of a DaemonSet: Kubernetes' schema (kubernetes-models), then what the API server's
// validation adds: names, label values, the selector matching the template, mounts of known volumes.
export function daemonSetProblems(object) {
  const problems = [];
  try {
    new DaemonSet(object).validate();
  } catch (error) {
    problems.push(`schema: ${error.message}`);
  }
  const name = object.metadata?.name ?? '';
  if (!DNS_LABEL.test(name) || name.length > 63) problems.push(`metadata.name ${JSON.stringify(name)} is not a DNS label`);
  const template = object.spec?.template ?? {};
  const labels = template.metadata?.labels ?? {};
  for (const [key, value] of Object.entries(object.spec?.selector?.matchLabels ?? {})) if (labels[key] !== value) problems.push(`selector ${key}=${value} does not match the template`);
  const pod = template.spec ?? {};
  for (const [key, value] of Object.entries({ ...labels, ...pod.nodeSelector })) if (!LABEL_VALUE.test(value) || value.length > 63) problems.push(`label value ${key}=${JSON.stringify(value)} is invalid`);
  const volumes = new Set((pod.volumes ?? []).map((volume) => volume.name));
  const containers = [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
  if (new Set(containers.map((c) => c.name)).size !== containers.length) problems.push('two containers share a name');
  for (const container of containers) {
    if (!DNS_LABEL.test(container.name ?? '')) problems.push(`container name ${JSON.stringify(container.name)} is not a DNS label`);
    for (const mount of container.volumeMounts ?? []) if (!volumes.has(mount.name)) problems.push(`${container.name} mounts unknown volume ${mount.name}`);
    if (!/[:@]/.test((container.image ?? '').split('/').pop())) problems.push(`${container.name}: image without a tag`);
  }
  if (pod.restartPolicy !== undefined && pod.restartPolicy !== 'Always') problems.push('a DaemonSet\'s pods must restart Always');
  return problems;
}
