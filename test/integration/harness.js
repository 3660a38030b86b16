// Shared by the integration tests: runs the real kvc CLI against the real podman of this machine,
// with the repository's USB/IP instance (host/etc/kvc) copied into a temporary config folder.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { hostCommandScript } from '../../lib/ops/host-commands.js';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { imageTagFor } from '../../lib/images/names.js';

export const ROOT = resolve(new URL('../..', import.meta.url).pathname);
export const KVER = process.env.KVC_TEST_KVER ?? '6.1.0-56-amd64';
export const CONTAINERS_CONF = process.env.CONTAINERS_CONF ?? join(ROOT, 'test/setup/containers.conf');
export const NODE = process.execPath;
export const MAIN = join(ROOT, 'lib/cli/main.js');

// A temporary config folder holding a copy of host/etc/kvc, plus kvc.conf lines for this machine.
export function makeConfigDir(extraGlobal = 'KVC_BUILD_NETWORK=host\n') {
  const dir = mkdtempSync(join(tmpdir(), 'kvc-it-'));
  cpSync(join(ROOT, 'host/etc/kvc'), dir, { recursive: true });
  writeFileSync(join(dir, 'kvc.conf'), `KVC_CONTAINER_RUNTIME=podman\n${extraGlobal}`);
  return dir;
}

// A made-up host for the service tests (KVC_HOST_ROOT): kernel KVER installed (its modules.dep),
// an empty /proc/modules, and /sys/module with `loaded` modules present; with a run folder.
export function makeHostRoot({ loaded = [] } = {}) {
  const root = mkdtempSync(join(tmpdir(), 'kvc-host-'));
  const runDir = mkdtempSync(join(tmpdir(), 'kvc-run-'));
  mkdirSync(join(root, 'sys/module'), { recursive: true });
  for (const module of loaded) mkdirSync(join(root, 'sys/module', module), { recursive: true });
  mkdirSync(join(root, 'proc'), { recursive: true });
  writeFileSync(join(root, 'proc/modules'), '');
  mkdirSync(join(root, 'lib/modules', KVER), { recursive: true });
  writeFileSync(join(root, 'lib/modules', KVER, 'modules.dep'), '');
  return { root, runDir };
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

// The environment every kvc the tests start runs with: this machine's containers.conf and a run
// folder (locks, tools PID) and a log folder of the tests' own instead of /run/kvc and /var/log/kvc.
export const RUN_DIR = join(tmpdir(), 'kvc-it-run');
// kvc's lasting state (the host commands' tool-run records): a folder of the tests', for every kvc
// and host command they start (they pass process.env on).
export const STATE_DIR = join(tmpdir(), 'kvc-it-state');
process.env.KVC_STATE_DIR = STATE_DIR;
export const LOG_DIR = join(tmpdir(), 'kvc-it-log');
export function kvcEnv(env = {}) {
  return { ...process.env, CONTAINERS_CONF, KVC_RUN_DIR: RUN_DIR, KVC_LOG_DIR: LOG_DIR, ...env };
}

// Runs kvc; returns { status, stdout, stderr }.
// A timeout (ms) sends kvc SIGTERM (it then stops what it runs and exits 130), so a hang fails
// the test instead of stalling the run.
export function kvc(args, { configDir, env = {}, input, timeout } = {}) {
  const result = spawnSync(NODE, [MAIN, ...(configDir ? ['--config-dir', configDir] : []), ...args], {
    env: kvcEnv(env),
    timeout,
    killSignal: 'SIGTERM',
    input,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// Runs podman directly (to check what kvc did, independently of kvc); options.env adds variables.
export function podman(args, { env = {}, ...options } = {}) {
  return execFileSync('podman', args, { env: { ...process.env, CONTAINERS_CONF, ...env }, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });
}

// What kvc may have added to podman between two podmanState() readings: images that appeared or
// went, and containers that appeared (one that went was another program's, finishing meanwhile).
export function podmanChanges(before, after) {
  const lines = (text) => text.split('\n').filter((line) => line !== '');
  const added = (a, b) => lines(b).filter((line) => !lines(a).includes(line));
  return { imagesAdded: added(before.images, after.images), imagesGone: added(after.images, before.images), containersAdded: added(before.containers, after.containers) };
}

// Everything podman holds: images (with names) and containers; compared before and after bad input.
export function podmanState(env = {}) {
  return {
    images: podman(['images', '--all', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}'], { env }).split('\n').sort().join('\n'),
    containers: podman(['ps', '--all', '--external', '--format', '{{.ID}} {{.Names}}'], { env }).split('\n').sort().join('\n'),
  };
}

// The usbip image of a kernel, tagged as kvc tags it (imageTagFor: a release with "+" or "~" is escaped).
export const usbipImage = (kver, version = '1.0.0') => `localhost/usbip-${version}:${imageTagFor(kver)}`;
export const IMAGE = (version) => usbipImage(KVER, version);

// Builds the USB/IP image for KVER with kvc when it is not there yet (test files may run in any order).
export function ensureUsbipImage(version = '1.0.0') {
  try {
    podman(['image', 'exists', IMAGE(version)]);
    return;
  } catch {
    // not there: build it
  }
  const configDir = makeConfigDir();
  const result = kvc(['build', 'usbip', KVER], { configDir });
  removeDir(configDir);
  if (result.status !== 0) throw new Error(`building ${IMAGE(version)} failed: ${result.stderr}`);
}

// What `make install` lays out for usbip's host commands, in `bin`: usbip and usbipd running the
// repository's host/lib/kvc-tool (with its guards); the caller puts a `kvc` beside them.
export function writeUsbipHostCommands(bin, tools = ['/usr/sbin/usbip', '/usr/sbin/usbipd']) {
  for (const tool of tools) {
    const path = join(bin, tool.split('/').pop());
    writeFileSync(path, hostCommandScript(join(ROOT, 'host/lib'), 'usbip', tool));
    chmodSync(path, 0o755);
  }
}

// Starts kvc in the background: its process, its stderr so far, a promise of its exit code, and
// until(re): a promise that resolves once stderr matches re.
export function startKvc(configDir, args) {
  const child = spawn(NODE, [MAIN, '--config-dir', configDir, ...args], { env: kvcEnv(), stdio: ['ignore', 'ignore', 'pipe'] });
  const run = { child, stderr: '', exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))) };
  const waiting = [];
  child.stderr.on('data', (chunk) => {
    run.stderr += chunk;
    for (const w of waiting.filter((w) => w.re.test(run.stderr))) w.resolve();
  });
  run.until = (re) => new Promise((resolve) => (re.test(run.stderr) ? resolve() : waiting.push({ re, resolve })));
  return run;
}

// An instance NAME in configDir that builds with the header-less recipe (issue 21): usbip.conf
// with KMOD_CONTAINER_BUILD_FILE="Containerfile.debian-source" and no device manager.
export function writeSourceInstance(configDir, name) {
  const conf = readFileSync(join(configDir, 'usbip.conf'), 'utf8');
  writeFileSync(join(configDir, `${name}.conf`), conf.replace(/^KMOD_CONTAINER_BUILD_FILE=.*$/m, 'KMOD_CONTAINER_BUILD_FILE="Containerfile.debian-source"').replace(/^KVC_DEVICE_MANAGER=.*$/m, ''));
}

// What kmod says of one module of kernel kver in an image: its CRCs (sorted), vermagic and depends.
export function moduleAbi(image, kver, module) {
  const path = `/lib/modules/${kver}/extra/${module}.ko`;
  const run = (args) => podman(['run', '--rm', '--network=none', image, ...args]);
  return {
    versions: run(['modprobe', '--dump-modversions', path]).split('\n').filter((line) => line !== '').sort(),
    vermagic: run(['modinfo', '-F', 'vermagic', path]),
    depends: run(['modinfo', '-F', 'depends', path]).trim(),
  };
}
