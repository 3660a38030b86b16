// The tests' own sigstore signer: Debian 12's podman and skopeo are built without sigstore
// ("Debian-local change: sigstore disabled"), so the signature `podman push
// --sign-by-sigstore-private-key` would write is written here instead, in the same form, through
// the registry's HTTP API: an OCI manifest tagged sha256-<digest>.sig beside the image, whose one
// layer is the simple-signing payload (the image's name and manifest digest) with the ECDSA
// signature of it in the layer's annotation, as containers/image and cosign read it.
import { createHash, createPrivateKey, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';

const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';

// The digest of the manifest a tag names now.
export async function manifestDigest(address, repository, tag) {
  const response = await fetch(`http://${address}/v2/${repository}/manifests/${tag}`, { method: 'HEAD', headers: { Accept: MANIFEST_TYPES } });
  if (!response.ok) throw new Error(`no manifest ${repository}:${tag} (${response.status})`);
  return response.headers.get('docker-content-digest');
}

async function uploadBlob(address, repository, data) {
  const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
  const start = await fetch(`http://${address}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
  const location = new URL(start.headers.get('location'), `http://${address}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`blob upload: ${put.status} ${await put.text()}`);
  return { digest, size: data.length };
}

// Signs <address>/<repository>:<tag> as it is now with the PKCS#8 key; returns the signed digest.
export async function signInRegistry(address, repository, tag, keyFile) {
  const digest = await manifestDigest(address, repository, tag);
  const payload = Buffer.from(JSON.stringify({
    critical: { identity: { 'docker-reference': `${address}/${repository}:${tag}` }, image: { 'docker-manifest-digest': digest }, type: 'cosign container image signature' },
    optional: null,
  }));
  const signature = sign('sha256', payload, createPrivateKey(readFileSync(keyFile))).toString('base64');
  const config = await uploadBlob(address, repository, Buffer.from('{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}'));
  const layer = await uploadBlob(address, repository, payload);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', ...layer, annotations: { 'dev.cosignproject.cosign/signature': signature } }],
  };
  const put = await fetch(`http://${address}/v2/${repository}/manifests/${digest.replace(':', '-')}.sig`, { method: 'PUT', body: JSON.stringify(manifest), headers: { 'Content-Type': manifest.mediaType } });
  if (put.status !== 201) throw new Error(`signature manifest: ${put.status} ${await put.text()}`);
  return digest;
}
