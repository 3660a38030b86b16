// Benchmark of the service runner (kvc service usbip, real podman and chokidar), on a host root
// made for it as in test/integration/service-watch.test.js:
//  - latency from a new kernel's files being complete (modules.dep written) to the start of its
//    build ("new kernel X: building" in the log), median of N kernels (their config lacks
//    CONFIG_USB, so each build is refused at once and no image is built);
//  - the idle runner's resident memory (VmRSS of the Node process) 5 s after it settled, and at
//    the later idle times (seconds) listed in KVC_BENCH_IDLE_SECONDS.
// Usage: node bench/service.mjs [N]   (prints a markdown table). KVC_BENCH_MAIN and
// KVC_BENCH_NODE_FLAGS choose what runs (the installed launcher: dist/kvc.mjs and its flags);
// KVC_BENCH_DETAIL=1 prints RssAnon/RssFile at each sample.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { collectLines } from '../test/integration/log-lines.js';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const KVER = process.env.KVER ?? '6.1.0-56-amd64';
const N = Number(process.argv[2] ?? 10);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

const config = mkdtempSync(join(tmpdir(), 'kvc-bench-cfg-'));
cpSync(join(ROOT, 'host/etc/kvc'), config, { recursive: true });
const host = mkdtempSync(join(tmpdir(), 'kvc-bench-host-'));
const run = mkdtempSync(join(tmpdir(), 'kvc-bench-run-'));
for (const m of ['usbip_core', 'usbip_host', 'vhci_hcd']) mkdirSync(join(host, 'sys/module', m), { recursive: true });
mkdirSync(join(host, 'proc'));
writeFileSync(join(host, 'proc/modules'), '');
mkdirSync(join(host, 'lib/modules', KVER), { recursive: true });
writeFileSync(join(host, 'lib/modules', KVER, 'modules.dep'), '');

const child = spawn(join(ROOT, 'node_modules/.bin/node'), [...(process.env.KVC_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean), join(ROOT, process.env.KVC_BENCH_MAIN ?? 'lib/cli/main.js'), '--config-dir', config, 'service', 'usbip'], {
  env: { ...process.env, CONTAINERS_CONF: process.env.CONTAINERS_CONF ?? join(ROOT, 'test/setup/containers.conf'), KVC_HOST_ROOT: host, KVC_RUNNING_KERNEL: KVER, KVC_RUN_DIR: run },
  stdio: ['ignore', 'ignore', 'pipe'],
});
const { waitFor } = collectLines(child.stderr);

await waitFor(/watching .* for new kernels/);
const latencies = [];
for (let i = 0; i < N; i += 1) {
  const kver = `6.1.0-${100 + i}-bench-amd64`;
  const dir = join(host, 'lib/modules', kver);
  mkdirSync(join(dir, 'kernel'), { recursive: true });
  writeFileSync(join(dir, 'config'), 'CONFIG_MODULES=y\n# CONFIG_USB is not set\n');
  await sleep(100);
  writeFileSync(join(dir, 'modules.dep'), '');
  const complete = Date.now();
  const started = await waitFor(new RegExp(`new kernel ${kver}: building`));
  latencies.push(started.at - complete);
  await waitFor(new RegExp(`${kver}.*not building for it`));
}
// VmRSS after 5 s idle, and (KVC_BENCH_IDLE_SECONDS) at later points of a longer idle period.
const samples = [];
const idleSeconds = [5, ...(process.env.KVC_BENCH_IDLE_SECONDS ?? '').split(' ').filter(Boolean).map(Number)];
let waited = 0;
for (const at of idleSeconds) {
  await sleep((at - waited) * 1000);
  waited = at;
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  samples.push({ at, rss: Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024, detail: status.match(/Rss\w+:.*/g).join(' ') });
  if (process.env.KVC_BENCH_DETAIL) console.log(`${at} s: ${samples.at(-1).detail}`);
}
const rss = samples[0].rss;
child.kill('SIGTERM');
await new Promise((r) => child.on('exit', r));
rmSync(config, { recursive: true, force: true });
rmSync(host, { recursive: true, force: true });
rmSync(run, { recursive: true, force: true });

console.log('| service runner | median | min–max | target |');
console.log('|---|---:|---:|---:|');
console.log(`| files complete → build starts (${N} kernels) | ${median(latencies)} ms | ${Math.min(...latencies)}–${Math.max(...latencies)} ms | ≤ 2000 ms |`);
console.log(`| idle runner memory (VmRSS of the Node process, watching) | ${rss.toFixed(1)} MB | | ≤ 60 MB |`);
for (const { at, rss: later } of samples.slice(1)) console.log(`| … after ${at} s idle | ${later.toFixed(1)} MB | | |`);
