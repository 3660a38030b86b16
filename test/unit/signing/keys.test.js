// Unit tests: the signing key's choice order, KVC_SIGN_KEY/KVC_SIGN_CERT, reading certificates,
// the checks on a key pair (attacks: a key others may read, a key another user owns), creating
// kvc's own key with the real openssl, and MOK list parsing.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseSigningKey, kvcKeyPair } from '../../../lib/signing/key-choice.js';
import { signingKeyFrom } from '../../../lib/config/signing-settings.js';
import { globalSettingsFrom } from '../../../lib/config/settings.js';
import { parseConfText } from '../../../lib/config/conf-file.js';
import { parseCertificate } from '../../../lib/signing/certificate.js';
import { findSigningKey, loadKeyPair } from '../../../lib/signing/signing-key.js';
import { createKvcKey, keyCommonName, opensslCreateArgs } from '../../../lib/signing/create-key.js';
import { mokStateOf, oneTimePassword, parseMokList } from '../../../lib/signing/mok.js';
import { ConfigError, SigningKeyError } from '../../../lib/errors.js';

const FIXTURES = new URL('../../fixtures/signing/', import.meta.url).pathname;
const fixture = (name) => readFileSync(join(FIXTURES, name));

describe('signing key: the choice order', () => {
  const locations = { keyDir: '/var/lib/kvc/keys', dkmsDir: '/var/lib/dkms' };
  const configured = { key: '/root/k.pem', cert: '/root/c.der', file: '/etc/kvc/kvc.conf' };
  const cases = [
    ['kvc.conf first, whatever else exists', { configured, kvc: 'both', dkms: 'both' }, { kind: 'use', pair: { source: 'config', key: '/root/k.pem', cert: '/root/c.der' } }],
    ['then kvc\'s own key', { configured: undefined, kvc: 'both', dkms: 'both' }, { kind: 'use', pair: { source: 'kvc', key: '/var/lib/kvc/keys/signing-key.pem', cert: '/var/lib/kvc/keys/signing-cert.der' } }],
    ['then DKMS\'s', { configured: undefined, kvc: 'none', dkms: 'both' }, { kind: 'use', pair: { source: 'dkms', key: '/var/lib/dkms/mok.key', cert: '/var/lib/dkms/mok.pub' } }],
    ['none: kvc creates its own on need', { configured: undefined, kvc: 'none', dkms: 'none' }, { kind: 'none' }],
    ['a DKMS key half there is passed over', { configured: undefined, kvc: 'none', dkms: 'key-only' }, { kind: 'none' }],
    ['kvc\'s own half there is reported, not passed over to DKMS\'s', { configured: undefined, kvc: 'key-only', dkms: 'both' }, { kind: 'incomplete', pair: kvcKeyPair(locations), missing: '/var/lib/kvc/keys/signing-cert.der' }],
    ['kvc\'s certificate without its key likewise', { configured: undefined, kvc: 'cert-only', dkms: 'none' }, { kind: 'incomplete', pair: kvcKeyPair(locations), missing: '/var/lib/kvc/keys/signing-key.pem' }],
  ];
  for (const [title, facts, expected] of cases) it(title, () => expect(chooseSigningKey(facts, locations)).to.deep.equal(expected));
});

describe('signing key: KVC_SIGN_KEY and KVC_SIGN_CERT', () => {
  const merged = (entries) => new Map(Object.entries(entries).map(([key, value]) => [key, { value, file: '/etc/kvc/kvc.conf' }]));
  it('takes both, or neither', () => {
    expect(signingKeyFrom(merged({ KVC_SIGN_KEY: '/root/k.pem', KVC_SIGN_CERT: '/root/c.der' }))).to.deep.equal({ key: '/root/k.pem', cert: '/root/c.der', file: '/etc/kvc/kvc.conf' });
    expect(signingKeyFrom(merged({}))).to.equal(undefined);
    expect(signingKeyFrom(merged({ KVC_SIGN_KEY: '', KVC_SIGN_CERT: ' ' }))).to.equal(undefined);
  });
  const refusals = [
    [{ KVC_SIGN_KEY: '/root/k.pem' }, 'KVC_SIGN_CERT: is missing, but KVC_SIGN_KEY is set'],
    [{ KVC_SIGN_CERT: '/root/c.der' }, 'KVC_SIGN_KEY: is missing, but KVC_SIGN_CERT is set'],
    [{ KVC_SIGN_KEY: 'pkcs11:token=kvc;object=sign', KVC_SIGN_CERT: '/root/c.der' }, 'is a PKCS#11 URI'],
    [{ KVC_SIGN_KEY: 'k.pem', KVC_SIGN_CERT: '/root/c.der' }, 'KVC_SIGN_KEY: "k.pem" is not an absolute path'],
    [{ KVC_SIGN_KEY: '/root/k.pem', KVC_SIGN_CERT: '/root/a,src=/etc/shadow' }, 'KVC_SIGN_CERT: "/root/a,src=/etc/shadow" is not an absolute path without ".." or ","'],
    [{ KVC_SIGN_KEY: '/root/../etc/k.pem', KVC_SIGN_CERT: '/root/c.der' }, 'is not an absolute path'],
  ];
  for (const [entries, message] of refusals) {
    it(`refuses ${JSON.stringify(entries)}`, () => expect(() => signingKeyFrom(merged(entries))).to.throw(ConfigError, message));
  }
  it('is read with kvc.conf\'s other keys (no "not a kvc setting" warning)', () => {
    const path = '/etc/kvc/kvc.conf';
    const settings = globalSettingsFrom([{ path, entries: parseConfText(path, 'KVC_SIGN_KEY=/root/k.pem\nKVC_SIGN_CERT=/root/c.der\n') }]);
    expect(settings.signingKey).to.deep.equal({ key: '/root/k.pem', cert: '/root/c.der', file: path });
    expect(settings.warnings).to.deep.equal([]);
  });
});

describe('signing key: certificates', () => {
  it('reads the ids the kernel and modinfo show: the subject key identifier, the serial', () => {
    const cert = parseCertificate(fixture('cert-with-skid.der'));
    expect(cert).to.include({ subject: 'CN=kvc fixture signing key', commonName: 'kvc fixture signing key', issuerCommonName: 'kvc fixture signing key', serial: '3e1183094e59b35fdf2588dbffd9c5809b88c6e2', keyId: '079c516759b46e5bd6df47f9d932579ae074e759', codeSigning: true, hasExtendedKeyUsage: true });
    expect(cert.sha1Fingerprint).to.equal('83:A7:16:E8:59:02:62:9C:D2:0B:3E:A2:DE:8E:0E:57:5F:CF:D0:12');
    // The same id as the kernel's description of it (proc-keys-captured.txt).
    expect(fixture('proc-keys-captured.txt').toString()).to.include(`kvc fixture signing key: ${cert.keyId}: X509.rsa`);
  });
  it('takes the serial as the key id of a certificate without a subject key identifier, as the kernel does', () => {
    const cert = parseCertificate(fixture('cert-without-skid.der'));
    expect(cert.keyId).to.equal(cert.serial);
    expect(cert.subject).to.equal('O=Example Org, CN=DKMS module signing key');
    expect(fixture('proc-keys-captured.txt').toString()).to.include(`Example Org: DKMS module signing key: ${cert.keyId}: X509.rsa []`);
  });
  it('reads PEM as DER', () => {
    const der = fixture('cert-with-skid.der');
    const pem = `-----BEGIN CERTIFICATE-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`;
    expect(parseCertificate(Buffer.from(pem)).der.equals(der)).to.equal(true);
  });
});

// Key pairs made by the real openssl (as kvc key create uses it).
function makePair(dir, name, extra = []) {
  const key = join(dir, `${name}.pem`);
  const cert = join(dir, `${name}.der`);
  execFileSync('openssl', [...opensslCreateArgs(key, cert, `test ${name}`), ...extra], { stdio: 'ignore' });
  chmodSync(key, 0o600);
  return { key, cert };
}

describe('signing key: a pair is checked before use', function () {
  this.timeout(30_000);
  let dir;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-keys-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a root-only key and its certificate', async () => {
    const pair = makePair(dir, 'good');
    const key = await loadKeyPair({ source: 'config', ...pair });
    expect(key.certificate.subject).to.equal('CN=test good');
    expect(key.certificate.codeSigning).to.equal(true);
  });
  it('attack: refuses a key others may read (anyone could sign modules the kernel trusts)', async () => {
    const pair = makePair(dir, 'open');
    chmodSync(pair.key, 0o644);
    const error = await loadKeyPair({ source: 'dkms', ...pair }).catch((caught) => caught);
    expect(error).to.be.instanceOf(SigningKeyError);
    expect(error.message).to.include('may be read by others (mode 644)');
    expect(error.hint).to.include(`chmod 600 ${pair.key}`);
  });
  it('attack: refuses a key another user owns (they could swap it)', async function () {
    if (process.getuid() !== 0) this.skip();
    const pair = makePair(dir, 'theirs');
    chownSync(pair.key, 1000, 1000);
    const error = await loadKeyPair({ source: 'config', ...pair }).catch((caught) => caught);
    expect(error).to.be.instanceOf(SigningKeyError);
    expect(error.message).to.include('belongs to uid 1000, not root');
  });
  it('refuses a certificate of another key', async () => {
    const one = makePair(dir, 'one');
    const two = makePair(dir, 'two');
    const error = await loadKeyPair({ source: 'config', key: one.key, cert: two.cert }).catch((caught) => caught);
    expect(error).to.be.instanceOf(SigningKeyError);
    expect(error.message).to.include('is not the certificate of');
  });
  it('refuses an encrypted key (a build cannot ask for its passphrase)', async () => {
    const pair = makePair(dir, 'plain');
    const encrypted = join(dir, 'encrypted.pem');
    execFileSync('openssl', ['pkey', '-in', pair.key, '-aes256', '-passout', 'pass:secret', '-out', encrypted]);
    chmodSync(encrypted, 0o600);
    const error = await loadKeyPair({ source: 'config', key: encrypted, cert: pair.cert }).catch((caught) => caught);
    expect(error).to.be.instanceOf(SigningKeyError);
    expect(error.message).to.include('is not an unencrypted PEM private key');
  });
  it('refuses a certificate that is not one', async () => {
    const pair = makePair(dir, 'x');
    writeFileSync(pair.cert, 'not a certificate');
    const error = await loadKeyPair({ source: 'kvc', ...pair }).catch((caught) => caught);
    expect(error).to.be.instanceOf(SigningKeyError);
    expect(error.message).to.include('is not a readable X.509 certificate');
  });
  it('finds DKMS\'s key when kvc has none, and kvc\'s own once it exists', async () => {
    const locations = { keyDir: join(dir, 'kvc'), dkmsDir: join(dir, 'dkms') };
    mkdirSync(locations.dkmsDir);
    execFileSync('openssl', [...opensslCreateArgs(join(locations.dkmsDir, 'mok.key'), join(locations.dkmsDir, 'mok.pub'), 'DKMS module signing key')], { stdio: 'ignore' });
    chmodSync(join(locations.dkmsDir, 'mok.key'), 0o600);
    expect(await findSigningKey(undefined, locations)).to.include({ source: 'dkms' });
    await createKvcKey(locations);
    expect(await findSigningKey(undefined, locations)).to.include({ source: 'kvc' });
  });
  it('says so when kvc\'s own key is half there', async () => {
    const locations = { keyDir: join(dir, 'kvc'), dkmsDir: join(dir, 'dkms') };
    await createKvcKey(locations);
    rmSync(join(locations.keyDir, 'signing-cert.der'));
    const error = await findSigningKey(undefined, locations).catch((caught) => caught);
    expect(error).to.be.instanceOf(SigningKeyError);
    expect(error.message).to.include('signing-cert.der is missing');
  });
});

describe('signing key: kvc key create (real openssl)', function () {
  this.timeout(30_000);
  let dir;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-create-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('makes a root-only key in a root-only folder: X.509, code signing, named after kvc and the host', async () => {
    const locations = { keyDir: join(dir, 'keys'), dkmsDir: join(dir, 'dkms') };
    const key = await createKvcKey(locations);
    expect(statSync(locations.keyDir).mode & 0o777).to.equal(0o700);
    expect(statSync(key.key).mode & 0o777).to.equal(0o600);
    expect(key.certificate.codeSigning && key.certificate.hasExtendedKeyUsage).to.equal(true);
    expect(key.certificate.commonName).to.match(/^kvc module signing key/);
    expect(readdirSync(locations.keyDir).sort()).to.deep.equal(['signing-cert.der', 'signing-key.pem']);
    const text = execFileSync('openssl', ['x509', '-inform', 'DER', '-in', key.cert, '-noout', '-text'], { encoding: 'utf8' });
    expect(text).to.match(/Extended Key Usage:\s*\n\s*Code Signing/);
  });
  it('never overwrites a key: a second create is refused; --replace keeps the old files aside', async () => {
    const locations = { keyDir: join(dir, 'keys'), dkmsDir: join(dir, 'dkms') };
    const first = await createKvcKey(locations);
    const error = await createKvcKey(locations).catch((caught) => caught);
    expect(error).to.be.instanceOf(SigningKeyError);
    expect(error.message).to.include('exists already');
    const second = await createKvcKey(locations, { replace: true });
    expect(second.certificate.keyId).to.not.equal(first.certificate.keyId);
    const kept = readdirSync(locations.keyDir).filter((name) => name.includes('.replaced-'));
    expect(kept).to.have.length(2);
    expect(parseCertificate(readFileSync(join(locations.keyDir, kept.find((name) => name.startsWith('signing-cert'))))).keyId).to.equal(first.certificate.keyId);
  });
  it('attack: refuses a key folder others may enter, making no key there', async () => {
    const keyDir = join(dir, 'open');
    mkdirSync(keyDir, { mode: 0o755 });
    chmodSync(keyDir, 0o755);
    const error = await createKvcKey({ keyDir, dkmsDir: join(dir, 'dkms') }).catch((caught) => caught);
    expect(error).to.be.instanceOf(SigningKeyError);
    expect(error.message).to.include('is not a folder only root may enter');
    expect(existsSync(join(keyDir, 'signing-key.pem'))).to.equal(false);
  });
  it('keeps the common name within X.509\'s 64 characters and free of what -subj reads specially', () => {
    expect(keyCommonName('host/with=odd+chars')).to.equal('kvc module signing key (hostwithoddchars)');
    expect(keyCommonName('x'.repeat(200)).length).to.be.at.most(64);
  });
});

describe('signing key: the MOK lists', () => {
  const text = fixture('mokutil-list-enrolled.txt').toString();
  it('reads each key\'s SHA-1 fingerprint', () => {
    expect(parseMokList(text)).to.deep.equal(['83a716e85902629cd20b3ea2de8e0e575fcfd012', '76a092065800bf376901c372cd55a90e1fded2e0']);
  });
  it('tells enrolled, pending, absent and unknown apart', () => {
    const fingerprint = parseCertificate(fixture('cert-with-skid.der')).sha1Fingerprint;
    expect(mokStateOf(fingerprint, parseMokList(text), [])).to.equal('enrolled');
    expect(mokStateOf(fingerprint, [], parseMokList(text))).to.equal('pending');
    expect(mokStateOf(fingerprint, [], [])).to.equal('absent');
    expect(mokStateOf(fingerprint, undefined, undefined)).to.equal('unknown');
  });
  it('makes 8-character one-time passwords of unambiguous letters and digits', () => {
    const passwords = new Set(Array.from({ length: 50 }, oneTimePassword));
    for (const password of passwords) expect(password).to.match(/^[a-hjkmnp-z2-9]{8}$/);
    expect(passwords.size).to.be.greaterThan(45);
  });
});
