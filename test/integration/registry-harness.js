// A real registry for the tests (Debian's docker-registry, distribution 2.8) on a loopback port of
// its own, with its own configuration and storage in a temporary folder.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const REGISTRY = '/usr/bin/docker-registry';

// A TCP port nothing listens on now.
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForRegistry(url, child, ms = 15000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}`);
    try {
      if ((await fetch(`${url}/v2/`)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`docker-registry did not answer on ${url} within ${ms} ms`);
}

// Starts a registry storing under dir; resolves to { address, stop }.
export async function startRegistry(dir) {
  const address = `127.0.0.1:${await freePort()}`;
  mkdirSync(join(dir, 'storage'), { recursive: true });
  writeFileSync(join(dir, 'config.yml'), [
    'version: 0.1',
    'log: {level: warn}',
    `storage: {filesystem: {rootdirectory: ${join(dir, 'storage')}}}`,
    `http: {addr: "${address}"}`,
    '',
  ].join('\n'));
  let log = '';
  const registry = spawn(REGISTRY, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  registry.on('error', (error) => { log += `${error.message} (install docker-registry: test/setup/install-host-deps.sh)\n`; });
  registry.stdout.on('data', (data) => { log += data; });
  registry.stderr.on('data', (data) => { log += data; });
  try {
    await waitForRegistry(`http://${address}`, registry);
  } catch (error) {
    registry.kill('SIGTERM');
    throw new Error(`${error.message}\n${log}`);
  }
  return { address, stop: () => registry.kill('SIGTERM') };
}
