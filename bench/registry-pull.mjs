// Benchmark: a node's image by pull against the local cold build of the same image (issue 22).
// On this machine's podman: a registry (Debian's docker-registry) on a loopback port of its own;
// the builder's usbip images for two kernels pushed to it; then, three times, a node with an empty
// storage of its own (CONTAINERS_STORAGE_CONF) pulls the first kernel's image (wall time of
// `podman pull`), then the second kernel's, and the bytes the second pull fetched are the
// compressed layers of its manifest that the first one's lacks (read from the registry's API; the node's storage growth,
// unpacked, `du -sb`, beside it). kvc's checks of a pulled image (labels; one
// `modinfo` container) are timed apart. Prints a Markdown table.
//   node bench/registry-pull.mjs   (needs both usbip images built: kvc build usbip KVER)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startRegistry } from '../test/integration/registry-harness.js';
import { imageTagFor } from '../lib/images/names.js';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const CONTAINERS_CONF = process.env.CONTAINERS_CONF ?? join(ROOT, 'test/setup/containers.conf');
const KERNELS = [process.env.FIRST ?? '6.1.0-56-amd64', process.env.SECOND ?? '6.12.117+deb12-amd64'];
const RUNS = Number(process.env.RUNS ?? 3);
const MANIFEST = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

const podman = (args, env = {}) => execFileSync('podman', args, { env: { ...process.env, CONTAINERS_CONF, ...env }, encoding: 'utf8', maxBuffer: 1 << 26 });
const seconds = (fn) => {
  const start = process.hrtime.bigint();
  const out = fn();
  return { s: Number(process.hrtime.bigint() - start) / 1e9, out };
};

// Bytes under a node's storage folder.
const storedBytes = (node) => Number(execFileSync('du', ['-sb', join(node, 'graph')], { encoding: 'utf8' }).split('\t')[0]);

const dir = mkdtempSync(join(tmpdir(), 'kvc-bench-pull-'));
const registry = await startRegistry(join(dir, 'registry'));
try {
  const remote = (kver) => `${registry.address}/bench/usbip-1.0.0:${imageTagFor(kver)}`;
  for (const kver of KERNELS) podman(['push', '--quiet', '--tls-verify=false', `localhost/usbip-1.0.0:${imageTagFor(kver)}`, `docker://${remote(kver)}`]);
  const layers = async (kver) => {
    const response = await fetch(`http://${registry.address}/v2/bench/usbip-1.0.0/manifests/${imageTagFor(kver)}`, { headers: { Accept: MANIFEST } });
    const manifest = await response.json();
    return manifest.layers.map((layer) => ({ digest: layer.digest, size: layer.size }));
  };
  const [first, second] = [await layers(KERNELS[0]), await layers(KERNELS[1])];
  const firstBytes = first.reduce((sum, layer) => sum + layer.size, 0);
  const newLayers = second.filter((layer) => !first.some((other) => other.digest === layer.digest));
  const secondBytes = newLayers.reduce((sum, layer) => sum + layer.size, 0);
  const rows = [];
  for (let run = 1; run <= RUNS; run += 1) {
    const node = mkdtempSync(join(dir, 'node-'));
    const conf = join(node, 'storage.conf');
    writeFileSync(conf, `[storage]\ndriver = "overlay"\ngraphroot = "${node}/graph"\nrunroot = "${node}/run"\n`);
    const env = { CONTAINERS_STORAGE_CONF: conf };
    const a = seconds(() => podman(['pull', '--tls-verify=false', `docker://${remote(KERNELS[0])}`], env));
    const before = storedBytes(node);
    const b = seconds(() => podman(['pull', '--tls-verify=false', `docker://${remote(KERNELS[1])}`], env));
    const grown = storedBytes(node) - before;
    const check = seconds(() => podman(['run', '--rm', '--pull=never', '--network=none', remote(KERNELS[0]), 'modinfo', '-k', KERNELS[0], 'usbip-core', 'usbip-host', 'vhci-hcd'], env));
    rows.push({ run, first: a.s, second: b.s, grown, check: check.s });
    podman(['system', 'reset', '--force'], env);
  }
  const fmt = (n) => n.toFixed(1);
  console.log(`first kernel ${KERNELS[0]}: ${first.length} layers, ${(firstBytes / 1e6).toFixed(1)} MB compressed`);
  console.log(`second kernel ${KERNELS[1]}: ${newLayers.length} of ${second.length} layers new, ${(secondBytes / 1e6).toFixed(2)} MB (${secondBytes} bytes) to fetch`);
  console.log('| run | pull, first kernel (s) | pull, second kernel (s) | node storage grown by the second pull (MB, unpacked) | kvc\'s modinfo check (s) |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(`| ${row.run} | ${fmt(row.first)} | ${fmt(row.second)} | ${(row.grown / 1e6).toFixed(2)} | ${fmt(row.check)} |`);
} finally {
  registry.stop();
  rmSync(dir, { recursive: true, force: true });
}
