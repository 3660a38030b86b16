// The tests' GPG keys and the lookaside signature store of GPG "simple signing" (what Debian 12's
// podman 4.3 signs and verifies): a key made in a GnuPG home of its own, the path where podman
// keeps an image's signature, and a signature made by some key for an image already pushed
// (skopeo standalone-sign), as an attacker with the store's write access but not the key would;
// and the store served over HTTP, as a builder serves it to nodes.
import { execFileSync, spawn } from 'node:child_process';
import { freePort } from './registry-harness.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

// A signing key (ed25519, no passphrase) in <home>; its armored public key beside it, <home>.asc.
export function makeGpgKey(home, name) {
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const env = { ...process.env, GNUPGHOME: home };
  execFileSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', `${name} <${name}@kvc.test>`, 'ed25519', 'sign', 'never'], { env, stdio: 'ignore' });
  const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(execFileSync('gpg', ['--with-colons', '--list-secret-keys'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))[1];
  const publicKey = `${home}.asc`;
  writeFileSync(publicKey, execFileSync('gpg', ['--export', '--armor', fingerprint], { env }));
  return { home, fingerprint, publicKey, stop: () => execFileSync('gpgconf', ['--kill', 'gpg-agent'], { env, stdio: 'ignore' }) };
}

// Where podman keeps the first signature of <repository path>@<digest> in a lookaside folder.
export function signatureFile(store, repositoryPath, digest) {
  return join(store, `${repositoryPath}@${digest.replace(':', '=')}`, 'signature-1');
}

// Signs the manifest <address>/<repositoryPath>:<tag> has now with `key`, into the store.
export async function signWith(key, store, address, repositoryPath, tag, digest) {
  const response = await fetch(`http://${address}/v2/${repositoryPath}/manifests/${tag}`, { headers: { Accept: MANIFEST_TYPES } });
  const manifest = join(dirname(key.home), `manifest-${process.pid}.json`);
  writeFileSync(manifest, Buffer.from(await response.arrayBuffer()));
  const output = signatureFile(store, repositoryPath, digest);
  mkdirSync(dirname(output), { recursive: true });
  execFileSync('skopeo', ['standalone-sign', manifest, `${address}/${repositoryPath}:${tag}`, key.fingerprint, '--output', output], { env: { ...process.env, GNUPGHOME: key.home }, stdio: 'ignore' });
  return output;
}

// Serves a folder over HTTP on a loopback port (python3 -m http.server); resolves to { url, stop }.
export async function serveFolder(folder) {
  const port = await freePort();
  const server = spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', '--directory', folder, String(port)], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let tries = 0; tries < 100; tries += 1) {
    if (await fetch(`${url}/`).then((response) => response.ok, () => false)) return { url, stop: () => server.kill('SIGTERM') };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  server.kill('SIGTERM');
  throw new Error(`python3 -m http.server did not answer on ${url}`);
}
