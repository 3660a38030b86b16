// Unit tests: GPG simple signing for a fleet (the signature kind Debian 12's podman 4.3 supports):
// the kind chosen from the verification key's form, the policy and registries.d texts for it, the
// signing settings of `kvc publish`, and the GPG push's arguments and environment.
import { expect } from 'chai';
import { policyForRepo, registriesDForRepo, signatureRequirement } from '../../../lib/registry/trust-policy.js';
import { publishSignatureDir, signatureStore, verifyKeyKind } from '../../../lib/registry/signature-kind.js';
import { pushSigning } from '../../../lib/registry/publish-signing.js';
import { classifyPullFailure, pullFailureReason } from '../../../lib/registry/pull-plan.js';
import { globalRegistryFrom, registryLayerFrom, resolveRegistry } from '../../../lib/config/registry-settings.js';
import { pushArgs, pushEnv } from '../../../lib/runtime/args.js';
import { ConfigError } from '../../../lib/errors.js';

const REPO = '127.0.0.1:5000/kvc';
const KEY = '/etc/kvc/image-signing.asc';
const FPR = 'E920D24AC7FC6241F5FDD6A801F4955DE55C8784';
const CONF = '/etc/kvc/kvc.conf';
const lookup = (entries) => (key) => (key in entries ? { value: entries[key], file: CONF } : undefined);
const bytes = (text) => Buffer.from(text, 'latin1');

describe('registry, GPG: the signature kind from the verification key', () => {
  it('an armored or binary OpenPGP public key is GPG; one PEM public key is sigstore', () => {
    expect(verifyKeyKind(bytes('-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmDMEaxKN\n-----END PGP PUBLIC KEY BLOCK-----\n'), KEY)).to.equal('gpg');
    // `gpg --export` without --armor: an old-format public-key packet (0x98/0x99) or a new-format one (0xc6).
    expect(verifyKeyKind(Uint8Array.from([0x98, 0x33, 0x04]), KEY)).to.equal('gpg');
    expect(verifyKeyKind(Uint8Array.from([0x99, 0x01, 0x0d, 0x04]), KEY)).to.equal('gpg');
    expect(verifyKeyKind(Uint8Array.from([0xc6, 0x33, 0x04]), KEY)).to.equal('gpg');
    expect(verifyKeyKind(bytes('-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n'), KEY)).to.equal('sigstore');
  });

  it('a private key of either kind, two PEM keys, or anything else is a configuration error that says what to copy there', () => {
    expect(() => verifyKeyKind(bytes('-----BEGIN PGP PRIVATE KEY BLOCK-----\nx\n-----END PGP PRIVATE KEY BLOCK-----\n'), KEY)).to.throw(ConfigError, `${KEY}: KVC_IMAGE_VERIFY_KEY: holds a private key`);
    expect(() => verifyKeyKind(Uint8Array.from([0x95, 0x01, 0x04]), KEY)).to.throw(ConfigError, 'holds a private key');
    expect(() => verifyKeyKind(bytes('-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nx\n'), KEY)).to.throw(ConfigError, 'holds a private key');
    const pem = '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n';
    for (const bad of ['', pem + pem, 'ssh-ed25519 AAAA', '-----BEGIN PGP PUBLIC KEY BLOCK-----\ncut short']) {
      expect(() => verifyKeyKind(bytes(bad), KEY), bad).to.throw(ConfigError, 'is neither one PEM public key').with.property('hint').that.includes('gpg --export --armor');
    }
  });

  it('GPG needs KVC_IMAGE_SIGNATURES; sigstore refuses it (its signatures are in the registry)', () => {
    expect(signatureStore('gpg', 'file:///srv/sigs', KEY)).to.deep.equal({ kind: 'gpg', url: 'file:///srv/sigs' });
    expect(signatureStore('sigstore', undefined, KEY)).to.deep.equal({ kind: 'sigstore' });
    expect(() => signatureStore('gpg', undefined, KEY)).to.throw(ConfigError, 'KVC_IMAGE_SIGNATURES: is not set, but KVC_IMAGE_VERIFY_KEY (/etc/kvc/image-signing.asc) is a GPG key');
    expect(() => signatureStore('sigstore', 'http://b/s', KEY)).to.throw(ConfigError, 'KVC_IMAGE_SIGNATURES: is set, but KVC_IMAGE_VERIFY_KEY (/etc/kvc/image-signing.asc) is a sigstore key');
  });

  it('the builder writes into a folder: file:// only', () => {
    expect(publishSignatureDir({ kind: 'gpg', url: 'file:///var/lib/kvc/signatures' }, CONF)).to.equal('/var/lib/kvc/signatures');
    expect(publishSignatureDir({ kind: 'sigstore' }, CONF)).to.equal(undefined);
    expect(() => publishSignatureDir({ kind: 'gpg', url: 'https://b.example.com/sigs' }, CONF)).to.throw(ConfigError, `${CONF}: KVC_IMAGE_SIGNATURES: is https://b.example.com/sigs: kvc publish writes GPG signatures into a folder`);
  });
});

describe('registry, GPG: the texts kvc writes', () => {
  it('policy: Debian\'s packaged policy kept, one scope for the repository requiring signedBy GPGKeys (exact JSON)', () => {
    const text = policyForRepo('{\n    "default": [\n        {\n            "type": "insecureAcceptAnything"\n        }\n    ]\n}\n', '/etc/containers/policy.json', REPO, { kind: 'gpg', path: KEY });
    expect(text).to.equal([
      '{',
      '  "default": [',
      '    {',
      '      "type": "insecureAcceptAnything"',
      '    }',
      '  ],',
      '  "transports": {',
      '    "docker": {',
      '      "127.0.0.1:5000/kvc": [',
      '        {',
      '          "type": "signedBy",',
      '          "keyType": "GPGKeys",',
      '          "keyPath": "/etc/kvc/image-signing.asc",',
      '          "signedIdentity": {',
      '            "type": "matchRepoDigestOrExact"',
      '          }',
      '        }',
      '      ]',
      '    }',
      '  }',
      '}',
      '',
    ].join('\n'));
  });

  it('policy: never loosening; a host that rejects keeps rejecting, and the host\'s own requirements stay', () => {
    const strict = JSON.parse(policyForRepo('{"default":[{"type":"reject"}],"transports":{"docker":{"127.0.0.1:5000":[{"type":"sigstoreSigned","keyPath":"/h.pub"}]}}}', '/p', REPO, { kind: 'gpg', path: KEY }));
    expect(strict.transports.docker[REPO]).to.deep.equal([{ type: 'sigstoreSigned', keyPath: '/h.pub' }, signatureRequirement({ kind: 'gpg', path: KEY })]);
    expect(strict.default).to.deep.equal([{ type: 'reject' }]);
  });

  it('registries.d: the lookaside store for that repository only; a folder is also where the builder writes (exact YAML)', () => {
    expect(registriesDForRepo(REPO, { kind: 'gpg', url: 'file:///var/lib/kvc/signatures' })).to.equal([
      '# Written by kvc: where the signatures of KVC_IMAGE_REPO are (file:///var/lib/kvc/signatures).',
      'docker:',
      '  "127.0.0.1:5000/kvc":',
      '    lookaside: "file:///var/lib/kvc/signatures"',
      '    lookaside-staging: "file:///var/lib/kvc/signatures"',
      '',
    ].join('\n'));
    expect(registriesDForRepo(REPO, { kind: 'gpg', url: 'https://builder.example.com:8443/sigs' })).to.equal([
      '# Written by kvc: where the signatures of KVC_IMAGE_REPO are (https://builder.example.com:8443/sigs).',
      'docker:',
      '  "127.0.0.1:5000/kvc":',
      '    lookaside: "https://builder.example.com:8443/sigs"',
      '',
    ].join('\n'));
  });
});

describe('registry, GPG: settings and the signed push', () => {
  it('KVC_IMAGE_SIGN_KEY: a fingerprint (spaces as gpg prints them allowed) is GPG, an absolute path sigstore; a short id or a relative path is refused', () => {
    expect(globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: FPR.toLowerCase() })).signKey).to.deep.equal({ kind: 'gpg', fingerprint: FPR });
    expect(globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: 'E920 D24A C7FC 6241 F5FD  D6A8 01F4 955D E55C 8784' })).signKey).to.deep.equal({ kind: 'gpg', fingerprint: FPR });
    expect(globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: '/root/k.private' })).signKey).to.deep.equal({ kind: 'sigstore', path: '/root/k.private' });
    expect(() => globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: '0x01F4955DE55C8784' }))).to.throw(ConfigError, 'looks like a short GPG key id');
    expect(() => globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: 'k.private' }))).to.throw(ConfigError, 'KVC_IMAGE_SIGN_KEY: "k.private" is not an absolute path');
    expect(() => globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_GNUPGHOME: '.gnupg' }))).to.throw(ConfigError, 'KVC_IMAGE_SIGN_GNUPGHOME');
  });

  it('KVC_IMAGE_SIGNATURES: file:///DIR or http(s)://HOST/PATH (a trailing slash dropped), passed on to the instance', () => {
    for (const good of ['file:///srv/sigs', 'http://10.0.0.1:8080/sigs', 'https://builder.example.com', 'https://b.example.com/a/b']) {
      expect(globalRegistryFrom(lookup({ KVC_IMAGE_SIGNATURES: good })).signatures, good).to.equal(good);
    }
    expect(globalRegistryFrom(lookup({ KVC_IMAGE_SIGNATURES: 'file:///srv/sigs/' })).signatures).to.equal('file:///srv/sigs');
    for (const bad of ['/srv/sigs', 'file://srv/sigs', 'ftp://b/s', 'file:///srv/../etc', 'http://b/s p', 'docker://r/x']) {
      expect(() => globalRegistryFrom(lookup({ KVC_IMAGE_SIGNATURES: bad })), bad).to.throw(ConfigError, 'KVC_IMAGE_SIGNATURES');
    }
    const global = globalRegistryFrom(lookup({ KVC_IMAGE_VERIFY_KEY: KEY, KVC_IMAGE_REPO: REPO, KVC_IMAGE_SIGNATURES: 'http://b:8080/sigs' }));
    expect(resolveRegistry(global, registryLayerFrom(lookup({})))).to.deep.equal({ repo: REPO, verifyKey: KEY, signatures: 'http://b:8080/sigs', fallback: true, tlsVerify: true });
  });

  it('publish signing: GPG needs a GnuPG home (a passphrase file only if the key has one); the kinds of the two keys must agree', () => {
    const gpg = globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: FPR, KVC_IMAGE_SIGN_GNUPGHOME: '/root/.gnupg' }));
    expect(pushSigning(CONF, gpg, 'gpg', '/run/d')).to.deep.equal({ kind: 'gpg', fingerprint: FPR, gnupgHome: '/root/.gnupg', digestFile: '/run/d' });
    const withPass = globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: FPR, KVC_IMAGE_SIGN_GNUPGHOME: '/g', KVC_IMAGE_SIGN_PASSPHRASE_FILE: '/p' }));
    expect(pushSigning(CONF, withPass, 'gpg', '/d')).to.deep.equal({ kind: 'gpg', fingerprint: FPR, gnupgHome: '/g', passphraseFile: '/p', digestFile: '/d' });
    expect(() => pushSigning(CONF, globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: FPR })), 'gpg', '/d')).to.throw(ConfigError, `${CONF}: KVC_IMAGE_SIGN_GNUPGHOME: is not set`);
    expect(() => pushSigning(CONF, gpg, 'sigstore', '/d')).to.throw(ConfigError, 'is a GPG key, but KVC_IMAGE_VERIFY_KEY is a sigstore key');
    expect(() => pushSigning(CONF, globalRegistryFrom(lookup({})), 'gpg', '/d')).to.throw(ConfigError, 'KVC_IMAGE_SIGN_KEY: is not set');
    const sigstore = globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: '/k', KVC_IMAGE_SIGN_PASSPHRASE_FILE: '/p' }));
    expect(pushSigning(CONF, sigstore, 'sigstore', '/d')).to.deep.equal({ kind: 'sigstore', privateKey: '/k', passphraseFile: '/p', digestFile: '/d' });
    expect(() => pushSigning(CONF, globalRegistryFrom(lookup({ KVC_IMAGE_SIGN_KEY: '/k' })), 'sigstore', '/d')).to.throw(ConfigError, 'KVC_IMAGE_SIGN_PASSPHRASE_FILE: is not set');
  });

  it('GPG push: --sign-by FINGERPRINT, the digest file, and GNUPGHOME in its environment only', () => {
    const options = { tlsVerify: false, sign: { kind: 'gpg', fingerprint: FPR, gnupgHome: '/g', digestFile: '/d' } };
    expect(pushArgs('podman', 'localhost/x:1', 'r/x:1', options)).to.deep.equal(['push', '--tls-verify=false', '--sign-by', FPR, '--digestfile', '/d', 'localhost/x:1', 'docker://r/x:1']);
    expect(pushEnv(options)).to.deep.equal({ GNUPGHOME: '/g' });
    expect(pushArgs('podman', 'localhost/x:1', 'r/x:1', { tlsVerify: true, sign: { ...options.sign, passphraseFile: '/p' } }))
      .to.deep.equal(['push', '--sign-by', FPR, '--sign-passphrase-file', '/p', '--digestfile', '/d', 'localhost/x:1', 'docker://r/x:1']);
    expect(pushEnv({ tlsVerify: true, sign: { kind: 'sigstore', privateKey: '/k', passphraseFile: '/p', digestFile: '/d' } })).to.deep.equal({});
  });
});

describe('registry, GPG: podman\'s refusals as kvc status says them', () => {
  it('a signature by a key KVC_IMAGE_VERIFY_KEY does not hold: whose key it is, not gpgme\'s dump; a signature of another manifest: podman\'s words', () => {
    const cases = [
      ['Error: Source image rejected: Invalid GPG signature: gpgme.Signature{Summary:128, Fingerprint:"2AE3924D9AA39C03F50FEE63161DB587755C7D9B", Status:gpgme.Error{err:0x9}, Timestamp:time.Date(2026, time.December, 4, 10, 2, 10, 0, time.Local), PubkeyAlgo:303, HashAlgo:8}\n',
        'Source image rejected: Invalid GPG signature: made by GPG key 2AE3924D9AA39C03F50FEE63161DB587755C7D9B, which KVC_IMAGE_VERIFY_KEY does not hold'],
      ['Error: Source image rejected: Signature for digest sha256:4799 does not match\n', 'Source image rejected: Signature for digest sha256:4799 does not match'],
    ];
    for (const [output, reason] of cases) expect([classifyPullFailure(output), pullFailureReason(output)]).to.deep.equal(['refused', reason]);
  });
});
