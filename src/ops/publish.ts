// `kvc publish`: the builder's side of a fleet. Builds (or reuses) each kernel's image, pushes it
// signed (GPG simple signing into KVC_IMAGE_SIGNATURES's folder, or sigstore) to KVC_IMAGE_REPO, and records the pushed digest in
// <stateDir>/<name>/published/<kver>.json; an image already pushed there is not pushed again.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { InstanceSettings } from '../config/settings.js';
import { ConfigError, RuntimeError } from '../errors.js';
import { imageInRepo, imageName } from '../images/names.js';
import { parseDigestFile, parsePublishRecord, publishSteps, type PublishRecord } from '../registry/publish-plan.js';
import { buildImage, type BuildOptions } from './build.js';
import { hostWrites, type Context } from './context.js';
import { isWould } from '../host/effect.js';
import { trustStore, writeTrustFiles } from './pull-image.js';
import { resolveRegistry } from '../config/registry-settings.js';
import { publishSignatureDir } from '../registry/signature-kind.js';
import { pushSigning } from '../registry/publish-signing.js';
import { readRecordFiles, writeRecordFile } from '../registry/record-files.js';

// One kernel's result: pushed now, or already there.
export interface Published {
  readonly kernel: string;
  readonly destination: string;
  readonly digest: string;
  readonly pushed: boolean;
}

// Publishes the instance's images for the kernels, in order; returns what each became.
export async function publish(ctx: Context, settings: InstanceSettings, kernels: readonly string[], options: BuildOptions): Promise<Published[]> {
  const global = ctx.registry;
  const registry = global === undefined ? undefined : resolveRegistry(global, settings.registry ?? { repo: undefined, fallback: undefined });
  if (global === undefined || registry === undefined) {
    throw new ConfigError(`${ctx.configDir}/kvc.conf`, 'KVC_IMAGE_REPO', 'is not set: kvc publish pushes there', { hint: 'set KVC_IMAGE_REPO (and KVC_IMAGE_VERIFY_KEY) in kvc.conf; see docs/many-hosts.md' });
  }
  const store = await trustStore(registry);
  const signing = pushSigning(`${ctx.configDir}/kvc.conf`, global, store.kind, join(ctx.runDir, `publish-${process.pid}.digest`));
  const signatureDir = publishSignatureDir(store, `${ctx.configDir}/kvc.conf`);
  const recordDir = join(ctx.stateDir ?? '/var/lib/kvc', settings.name, 'published');
  const records = await readRecordFiles(recordDir, parsePublishRecord);
  // registries.d: where the signatures go (beside the images, or the GPG folder); through the host writes (a dry run's print them).
  const host = hostWrites(ctx);
  await writeTrustFiles(ctx, registry);
  if (signatureDir !== undefined) await host.mkdirp(signatureDir, 0o755);
  const results: Published[] = [];
  for (const kernel of kernels) {
    // Built here, never pulled: the builder is where images come from.
    await buildImage(ctx, settings, kernel, { ...options, noPull: true });
    const local = imageName(settings, kernel);
    const destination = imageInRepo(local, registry.repo);
    const info = await ctx.runtime.inspectImage(local);
    const [step] = publishSteps([{ kernel, imageId: info?.id ?? '', destination }], records);
    if (step !== undefined && !step.push) {
      ctx.logger.info(`${destination} is already published (${step.digest}); nothing pushed`);
      results.push({ kernel, destination, digest: step.digest, pushed: false });
      continue;
    }
    const digestFile = signing.digestFile;
    await host.mkdirp(ctx.runDir, 0o755);
    try {
      // A dry run's push (a Would) pushed nothing: there is no digest to record.
      if (isWould(await ctx.runtime.push(local, destination, { tlsVerify: registry.tlsVerify, sign: signing }))) continue;
      const digest = parseDigestFile(await readFile(digestFile, 'utf8').catch(() => ''));
      if (digest === undefined) throw new RuntimeError(`podman pushed ${destination} but wrote no digest to ${digestFile}`, { command: [], stderrTail: '' });
      const record: PublishRecord = { kernel, imageId: info?.id ?? '', destination, digest, at: new Date().toISOString() };
      await writeRecordFile(recordDir, kernel, record);
      ctx.logger.info(`published ${destination}@${digest}, signed (${signing.kind === 'gpg' ? `GPG key ${signing.fingerprint}, signature in ${signatureDir ?? ''}` : 'sigstore'})`);
      results.push({ kernel, destination, digest, pushed: true });
    } finally {
      await host.remove(digestFile);
    }
  }
  return results;
}
