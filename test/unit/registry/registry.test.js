// Unit tests: pulling from KVC_IMAGE_REPO (pure parts): the signature policy kvc writes, the
// registry settings, the pull and signed push arguments, and the "pull, then fall back" decision.
import { expect } from 'chai';
import { policyForRepo, coveringScope, registriesDForRepo, registriesDFileName, policyFileName } from '../../../lib/registry/trust-policy.js';
import { afterPull, classifyPullFailure, pullFailureReason, labelProblems } from '../../../lib/registry/pull-plan.js';
import { parsePullRecord, describePull } from '../../../lib/registry/pull-record.js';
import { globalRegistryFrom, registryLayerFrom, resolveRegistry } from '../../../lib/config/registry-settings.js';
import { pullArgs, pushArgs } from '../../../lib/runtime/args.js';
import { ConfigError } from '../../../lib/errors.js';
import { publishSteps, parsePublishRecord, parseDigestFile } from '../../../lib/registry/publish-plan.js';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = '127.0.0.1:5000/kvc';
const KEY = '/etc/kvc/image-signing.pub';
const ours = { type: 'sigstoreSigned', keyPath: KEY, signedIdentity: { type: 'matchRepoDigestOrExact' } };
const SIGSTORE = { kind: 'sigstore', path: KEY };
const lookup = (entries) => (key) => (key in entries ? { value: entries[key], file: '/etc/kvc/kvc.conf' } : undefined);

describe('registry: the signature policy kvc passes to its pulls', () => {
  it('Debian\'s packaged policy: the host\'s default kept, one scope added that needs the sigstore signature (exact JSON)', () => {
    const text = policyForRepo('{\n    "default": [\n        {\n            "type": "insecureAcceptAnything"\n        }\n    ]\n}\n', '/etc/containers/policy.json', REPO, SIGSTORE);
    expect(text).to.equal(`${JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }], transports: { docker: { [REPO]: [ours] } } }, null, 2)}\n`);
  });

  it('never loosens: what the host asks of a covering scope (its host, a parent namespace, a wildcard) is asked of the repository too', () => {
    const host = {
      default: [{ type: 'reject' }],
      transports: {
        docker: { '127.0.0.1:5000': [{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k.gpg' }], 'quay.io': [{ type: 'insecureAcceptAnything' }] },
        'docker-daemon': { '': [{ type: 'insecureAcceptAnything' }] },
      },
    };
    const policy = JSON.parse(policyForRepo(JSON.stringify(host), 'p', REPO, SIGSTORE));
    expect(policy.default).to.deep.equal([{ type: 'reject' }]);
    expect(policy.transports['docker-daemon']).to.deep.equal(host.transports['docker-daemon']);
    expect(policy.transports.docker['quay.io']).to.deep.equal([{ type: 'insecureAcceptAnything' }]);
    expect(policy.transports.docker['127.0.0.1:5000']).to.deep.equal(host.transports.docker['127.0.0.1:5000']);
    expect(policy.transports.docker[REPO]).to.deep.equal([{ type: 'signedBy', keyType: 'GPGKeys', keyPath: '/k.gpg' }, ours]);
    // A host that rejects everything still rejects the repository: requirements of a scope all hold.
    const strict = JSON.parse(policyForRepo('{"default":[{"type":"reject"}]}', 'p', REPO, SIGSTORE));
    expect(strict.transports.docker[REPO]).to.deep.equal([{ type: 'reject' }, ours]);
  });

  it('the covering scope is chosen as podman does: repository, parent namespaces, host, *.domain, then ""', () => {
    expect(coveringScope(['a.example.com:5000/x', 'a.example.com:5000/x/y'], 'a.example.com:5000/x/y/z')).to.equal('a.example.com:5000/x/y');
    expect(coveringScope(['a.example.com:5000'], 'a.example.com:5000/x')).to.equal('a.example.com:5000');
    expect(coveringScope(['*.example.com', ''], 'a.example.com/x')).to.equal('*.example.com');
    expect(coveringScope(['', 'b.example.com'], 'a.example.com/x')).to.equal('');
    expect(coveringScope(['a.example.com/xy'], 'a.example.com/x')).to.equal(undefined);
  });

  it('a host policy that is not one is refused with its path, not overwritten', () => {
    expect(() => policyForRepo('not json', '/etc/containers/policy.json', REPO, SIGSTORE)).to.throw(ConfigError, '/etc/containers/policy.json: is not JSON');
    expect(() => policyForRepo('{"transports":{}}', '/p', REPO, SIGSTORE)).to.throw(ConfigError, 'needs a "default" list');
    expect(() => policyForRepo('{"default":[{"type":"reject"}],"transports":{"docker":{"x":{}}}}', '/p', REPO, SIGSTORE)).to.throw(ConfigError);
  });

  it('registries.d: signatures beside the images, for that repository only', () => {
    expect(registriesDForRepo(REPO, { kind: 'sigstore' })).to.equal('# Written by kvc: where the signatures of KVC_IMAGE_REPO are (beside the images).\ndocker:\n  "127.0.0.1:5000/kvc":\n    use-sigstore-attachments: true\n');
    expect(registriesDFileName(REPO)).to.equal('kvc-127.0.0.1_5000_kvc.yaml');
    expect(policyFileName(REPO)).to.equal('policy-kvc-127.0.0.1_5000_kvc.json');
  });
});

describe('registry: settings', () => {
  it('no repository: kvc builds as before; the instance\'s repository and fallback win over kvc.conf\'s', () => {
    const global = globalRegistryFrom(lookup({ KVC_IMAGE_VERIFY_KEY: KEY, KVC_IMAGE_REPO: REPO, KVC_BUILD_FALLBACK: 'no' }));
    expect(resolveRegistry(globalRegistryFrom(lookup({})), registryLayerFrom(lookup({})))).to.equal(undefined);
    expect(resolveRegistry(global, registryLayerFrom(lookup({})))).to.deep.equal({ repo: REPO, verifyKey: KEY, signatures: undefined, fallback: false, tlsVerify: true });
    expect(resolveRegistry(global, registryLayerFrom(lookup({ KVC_IMAGE_REPO: 'r.example.com/other', KVC_BUILD_FALLBACK: 'yes' }))))
      .to.deep.equal({ repo: 'r.example.com/other', verifyKey: KEY, signatures: undefined, fallback: true, tlsVerify: true });
    const defaults = globalRegistryFrom(lookup({ KVC_IMAGE_VERIFY_KEY: KEY, KVC_IMAGE_TLS_VERIFY: 'no' }));
    expect(resolveRegistry(defaults, registryLayerFrom(lookup({ KVC_IMAGE_REPO: REPO })))).to.deep.equal({ repo: REPO, verifyKey: KEY, signatures: undefined, fallback: true, tlsVerify: false });
  });

  it('refuses a repository without a verification key, a URL or tag for a repository, and other values than yes/no', () => {
    expect(() => resolveRegistry(globalRegistryFrom(lookup({ KVC_IMAGE_REPO: REPO })), registryLayerFrom(lookup({})))).to.throw(ConfigError, 'no KVC_IMAGE_VERIFY_KEY');
    for (const bad of ['https://r.example.com/kvc', 'r.example.com/kvc:tag', 'r.example.com', 'r.example.com/KVC', '-r/x']) {
      expect(() => registryLayerFrom(lookup({ KVC_IMAGE_REPO: bad })), bad).to.throw(ConfigError, 'KVC_IMAGE_REPO');
    }
    expect(() => registryLayerFrom(lookup({ KVC_BUILD_FALLBACK: 'true' }))).to.throw(ConfigError, 'must be yes or no');
    expect(() => globalRegistryFrom(lookup({ KVC_IMAGE_VERIFY_KEY: 'key.pub' }))).to.throw(ConfigError, 'absolute path');
    expect(() => globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: '/a/../b' }))).to.throw(ConfigError, 'KVC_IMAGE_SIGN_KEY');
  });
});

describe('registry: docker refused with KVC_IMAGE_REPO when the settings are read', () => {
  const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
  it('resolveRegistry with docker: a ConfigError naming the file, the key, podman and what to do; podman and no repository pass', () => {
    const global = globalRegistryFrom(lookup({ KVC_IMAGE_VERIFY_KEY: KEY, KVC_IMAGE_REPO: REPO }));
    expect(() => resolveRegistry(global, registryLayerFrom(lookup({})), 'docker')).to.throw(ConfigError, 'the container runtime is docker')
      .with.property('message').that.includes('/etc/kvc/kvc.conf').and.includes('KVC_IMAGE_REPO').and.includes('podman only');
    expect(resolveRegistry(global, registryLayerFrom(lookup({})), 'podman')).to.deep.include({ repo: REPO });
    expect(resolveRegistry(globalRegistryFrom(lookup({})), registryLayerFrom(lookup({})), 'docker')).to.equal(undefined);
  });
  it('the real CLI: kvc --runtime docker build, with KVC_IMAGE_REPO in kvc.conf, exits 78 before any runtime is run, and says to use podman', function () {
    this.timeout(20000);
    const dir = mkdtempSync(join(tmpdir(), 'kvc-docker-repo-'));
    try {
      cpSync(join(ROOT, 'host/etc/kvc'), dir, { recursive: true });
      writeFileSync(join(dir, 'kvc.conf'), `KVC_IMAGE_REPO=${REPO}\nKVC_IMAGE_VERIFY_KEY=${KEY}\n`);
      // PATH without docker or podman: a runtime reached would fail otherwise (exit 69), not 78.
      const run = (args) => spawnSync(process.execPath, [join(ROOT, 'lib/cli/main.js'), '--config-dir', dir, ...args], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent', KVC_TEST_INSECURE_FILES: '1' } });
      const result = run(['--runtime', 'docker', 'build', 'usbip', '6.1.0-56-amd64']);
      expect(result.status, result.stderr).to.equal(78);
      expect(result.stderr).to.include('KVC_IMAGE_REPO').and.include('docker').and.include('KVC_CONTAINER_RUNTIME=podman');
      writeFileSync(join(dir, 'kvc.conf'), `KVC_CONTAINER_RUNTIME=docker\nKVC_IMAGE_REPO=${REPO}\nKVC_IMAGE_VERIFY_KEY=${KEY}\n`);
      expect(run(['build', 'usbip', '6.1.0-56-amd64']).status, 'KVC_CONTAINER_RUNTIME=docker in kvc.conf').to.equal(78);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('registry: runtime arguments', () => {
  it('pull: the policy file, TLS off only when asked, the docker:// reference', () => {
    expect(pullArgs(`${REPO}/usbip-1.0.0:6.1.0-56-amd64`, { policyFile: '/run/kvc/registry/p.json', tlsVerify: true }))
      .to.deep.equal(['pull', '--quiet', '--signature-policy', '/run/kvc/registry/p.json', `docker://${REPO}/usbip-1.0.0:6.1.0-56-amd64`]);
    expect(pullArgs('r/x:1', { policyFile: '/p', tlsVerify: false })).to.deep.equal(['pull', '--quiet', '--signature-policy', '/p', '--tls-verify=false', 'docker://r/x:1']);
  });

  it('signed push: the sigstore key, its passphrase file and the digest file', () => {
    expect(pushArgs('podman', 'localhost/x:1', 'r/x:1', { tlsVerify: false, sign: { kind: 'sigstore', privateKey: '/k', passphraseFile: '/p', digestFile: '/d' } }))
      .to.deep.equal(['push', '--tls-verify=false', '--sign-by-sigstore-private-key', '/k', '--sign-passphrase-file', '/p', '--digestfile', '/d', 'localhost/x:1', 'docker://r/x:1']);
    expect(pushArgs('podman', 'localhost/x:1', 'r/x:1', { tlsVerify: true })).to.deep.equal(['push', 'localhost/x:1', 'docker://r/x:1']);
  });
});

describe('registry: pull, then fall back (pure plan)', () => {
  it('a verified image is used; otherwise a build only when KVC_BUILD_FALLBACK allows', () => {
    expect(afterPull(true, false)).to.equal('use');
    expect(afterPull(true, true)).to.equal('use');
    expect(afterPull(false, true)).to.equal('build');
    expect(afterPull(false, false)).to.equal('stop');
  });

  it('a failure is "refused" when the policy said no, "unreachable" otherwise; the reason is podman\'s Error line (recorded output)', () => {
    const unsigned = 'Trying to pull 127.0.0.1:5917/fx/fxtiny-1:k1...\nError: Source image rejected: A signature was required, but no signature exists\n';
    expect(classifyPullFailure(unsigned)).to.equal('refused');
    expect(pullFailureReason(unsigned)).to.equal('Source image rejected: A signature was required, but no signature exists');
    const debian = 'Trying to pull 127.0.0.1:5917/fx/fxtiny-1:k1...\nError: Source image rejected: Debian-local change: sigstore disabled\n';
    expect(classifyPullFailure(debian)).to.equal('refused');
    expect(pullFailureReason(debian)).to.include('built without sigstore signature support');
    const down = 'Trying to pull 127.0.0.1:1/x:1...\nError: initializing source docker://127.0.0.1:1/x:1: pinging container registry 127.0.0.1:1: Get "http://127.0.0.1:1/v2/": dial tcp 127.0.0.1:1: connect: connection refused\n';
    expect(classifyPullFailure(down)).to.equal('unreachable');
    expect(pullFailureReason(down)).to.match(/^initializing source .*connection refused$/);
  });

  it('a pulled image must be kvc\'s of this instance, kernel and version', () => {
    const want = { instance: 'usbip', kernel: '6.1.0-56-amd64', version: '1.0.0' };
    expect(labelProblems({ 'io.kvc.instance': 'usbip', 'io.kvc.kernel': '6.1.0-56-amd64', 'io.kvc.version': '1.0.0' }, want)).to.deep.equal([]);
    expect(labelProblems({ 'io.kvc.instance': 'usbip', 'io.kvc.kernel': '6.1.0-50-amd64' }, want)).to.deep.equal([
      'its label io.kvc.kernel is "6.1.0-50-amd64", not "6.1.0-56-amd64" (the kernel)',
      'its label io.kvc.version is missing, not "1.0.0" (KMOD_SOFTWARE_VERSION)',
    ]);
  });

  it('pull records: read back field by field, described for status', () => {
    const record = { kernel: '6.1.0-56-amd64', image: `${REPO}/usbip-1.0.0:6.1.0-56-amd64`, outcome: 'refused', reason: 'Source image rejected: x', fallback: 'none', at: '2026-12-04T09:00:00.000Z' };
    expect(parsePullRecord(JSON.stringify(record))).to.deep.equal(record);
    expect(parsePullRecord(JSON.stringify({ ...record, outcome: 'maybe' }))).to.equal(undefined);
    expect(parsePullRecord('{')).to.equal(undefined);
    expect(describePull(record)).to.equal(`pull of ${REPO}/usbip-1.0.0:6.1.0-56-amd64 refused: Source image rejected: x; not built (KVC_BUILD_FALLBACK=no) (2026-12-04T09:00:00.000Z)`);
  });
});

describe('registry: kvc publish (pure plan)', () => {
  const record = (kernel, imageId, destination, digest = `sha256:${'a'.repeat(64)}`) => ({ kernel, imageId, destination, digest, at: '2026-12-04T09:00:00.000Z' });
  it('pushes what was never pushed there, or whose local image changed since; the rest is already published', () => {
    const records = [record('6.1.0-56-amd64', 'id1', 'r/x/usbip-1.0.0:6.1.0-56-amd64'), record('6.1.0-58-amd64', 'old', 'r/x/usbip-1.0.0:6.1.0-58-amd64')];
    expect(publishSteps([
      { kernel: '6.1.0-56-amd64', imageId: 'id1', destination: 'r/x/usbip-1.0.0:6.1.0-56-amd64' },
      { kernel: '6.1.0-58-amd64', imageId: 'new', destination: 'r/x/usbip-1.0.0:6.1.0-58-amd64' },
      { kernel: '6.1.0-60-amd64', imageId: 'id3', destination: 'r/x/usbip-1.0.0:6.1.0-60-amd64' },
      { kernel: '6.1.0-56-amd64', imageId: 'id1', destination: 'other/usbip-1.0.0:6.1.0-56-amd64' },
    ], records)).to.deep.equal([
      { kernel: '6.1.0-56-amd64', push: false, digest: `sha256:${'a'.repeat(64)}` },
      { kernel: '6.1.0-58-amd64', push: true },
      { kernel: '6.1.0-60-amd64', push: true },
      { kernel: '6.1.0-56-amd64', push: true },
    ]);
  });

  it('reads records and podman\'s --digestfile, refusing what is not a sha256 digest', () => {
    const good = record('k', 'i', 'd');
    expect(parsePublishRecord(JSON.stringify(good))).to.deep.equal(good);
    expect(parsePublishRecord(JSON.stringify({ ...good, digest: 'sha256:abc' }))).to.equal(undefined);
    expect(parseDigestFile(`sha256:${'b'.repeat(64)}\n`)).to.equal(`sha256:${'b'.repeat(64)}`);
    expect(parseDigestFile('')).to.equal(undefined);
  });
});
