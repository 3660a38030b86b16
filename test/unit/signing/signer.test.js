// Unit tests: the signer label an image records, the out-of-date decision a key change makes, and
// what a build is given to sign with (secrets, build argument, label), on the fixture certificates.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseCertificate } from '../../../lib/signing/certificate.js';
import { parseSignerLabel, signerLabel, signerMismatch, signerOf, signingInputs, SIGN_SECRET, SIGNER_BUILD_ARG } from '../../../lib/signing/signer.js';
import { IMAGE_LABEL } from '../../../lib/images/labels.js';
import { buildArgs, secretArg } from '../../../lib/runtime/args.js';
import { parseBuildArgs } from '../../../lib/config/build-args.js';

const fixture = (name) => parseCertificate(readFileSync(new URL(`../../fixtures/signing/${name}`, import.meta.url)));
const withSkid = fixture('cert-with-skid.der');
const withoutSkid = fixture('cert-without-skid.der');

describe('signer label', () => {
  it('records the key id the kernel shows, the serial modinfo shows and the subject, and reads back the same', () => {
    const signer = signerOf(withSkid);
    const label = signerLabel(signer);
    expect(label).to.equal(`keyid=${withSkid.keyId}; serial=${withSkid.serial}; subject=${withSkid.subject}`);
    expect(label).to.match(/^keyid=079c516759b46e5bd6df47f9d932579ae074e759; serial=[0-9a-f]+; subject=CN=kvc fixture signing key$/);
    expect(parseSignerLabel(label)).to.deep.equal(signer);
  });

  it('a certificate without a key identifier is named by its serial; a subject with commas and "; " survives', () => {
    const signer = signerOf(withoutSkid);
    expect(signer.keyId).to.equal(withoutSkid.serial);
    const odd = { ...signer, subject: 'CN=a; b, O=c=d' };
    expect(parseSignerLabel(signerLabel(odd))).to.deep.equal(odd);
  });

  it('a key id with leading zero bytes is one key in every form (a fresh image once looked out of date, seen in build-secret.test.js)', () => {
    const certificate = { keyId: '004afd4666a600d4c53c979e5b1e7aab7800d645', serial: '2d01eb', subject: 'CN=k' };
    const signer = signerOf(certificate);
    expect(signer.keyId).to.equal('4afd4666a600d4c53c979e5b1e7aab7800d645');
    expect(signerMismatch(signerLabel(signer), signerOf(certificate))).to.equal(undefined);
    expect(signingInputs({ key: '/k', cert: '/c', certificate }).buildArgs).to.deep.equal({ KVC_SIGNER: signer.keyId });
  });

  it('an absent, empty or foreign label is no signer', () => {
    for (const text of [undefined, '', 'signed', 'keyid=; serial=1; subject=x', 'keyid=zz; serial=1; subject=x']) expect(parseSignerLabel(text), String(text)).to.equal(undefined);
    expect(parseSignerLabel('keyid=AB:CD; serial=00:0F; subject=CN=x')).to.deep.equal({ keyId: 'abcd', serial: '0f', subject: 'CN=x' });
  });
});

describe('out of date by signer (a key change makes an image out of date)', () => {
  const current = signerOf(withSkid);
  const other = signerOf(withoutSkid);

  it('an image signed by the key kvc signs with is up to date', () => {
    expect(signerMismatch(signerLabel(current), current)).to.equal(undefined);
  });

  it('an image signed by another key is out of date, and says which keys', () => {
    expect(signerMismatch(signerLabel(other), current)).to.equal(`its modules are signed by ${other.subject} (key id ${other.keyId}), but kvc now signs with CN=kvc fixture signing key (key id ${current.keyId})`);
    // Same key id, other serial (a certificate re-issued for the same key): out of date too.
    expect(signerMismatch(signerLabel({ ...current, serial: 'abc' }), current)).to.match(/but kvc now signs with/);
  });

  it('an unsigned image (no label, or the empty label an unsigned build sets) is out of date once there is a key', () => {
    for (const label of [undefined, '']) expect(signerMismatch(label, current)).to.equal(`its modules are not signed, and kvc now signs with CN=kvc fixture signing key (key id ${current.keyId})`);
  });

  it('without a key, no image is out of date for its signer (a rebuild would only drop a signature)', () => {
    for (const label of [undefined, '', signerLabel(other)]) expect(signerMismatch(label, undefined)).to.equal(undefined);
  });
});

describe('what a build is given to sign with', () => {
  const key = { key: '/var/lib/kvc/keys/signing-key.pem', cert: '/var/lib/kvc/keys/signing-cert.der', certificate: withSkid };

  it('the key and certificate as build secrets, the key id as KVC_SIGNER, the signer as a label; never the key in an argument or label', () => {
    const inputs = signingInputs(key);
    expect(inputs.secrets).to.deep.equal([{ id: SIGN_SECRET.key, src: key.key }, { id: SIGN_SECRET.cert, src: key.cert }]);
    expect(inputs.buildArgs).to.deep.equal({ [SIGNER_BUILD_ARG]: withSkid.keyId });
    expect(inputs.signerLabel).to.equal(signerLabel(signerOf(withSkid)));
    const argv = buildArgs('podman', { tag: 't', file: '/c/Containerfile', context: '/c', buildArgs: { KVER: '6.1.0-56-amd64', ...inputs.buildArgs }, labels: { [IMAGE_LABEL.signer]: inputs.signerLabel }, secrets: inputs.secrets });
    expect(argv).to.include.members(['--secret', 'id=kvc_sign_key,src=/var/lib/kvc/keys/signing-key.pem', 'id=kvc_sign_cert,src=/var/lib/kvc/keys/signing-cert.der', `KVC_SIGNER=${withSkid.keyId}`]);
    expect(argv[argv.length - 1]).to.equal('/c');
  });

  it('without a key: no secret, no build argument, and the signer label set empty (podman passes labels down its layer cache)', () => {
    expect(signingInputs(undefined)).to.deep.equal({ secrets: [], buildArgs: {}, signerLabel: '' });
    const argv = buildArgs('podman', { tag: 't', file: '/c/Containerfile', context: '/c', buildArgs: { KVER: 'k' }, labels: {} });
    expect(argv).to.not.include('--secret');
  });

  it('a secret path podman would read wrongly (relative, with a comma) is refused', () => {
    expect(() => secretArg({ id: 'kvc_sign_key', src: 'keys/key.pem' })).to.throw(/not absolute or has a ','/);
    expect(() => secretArg({ id: 'kvc_sign_key', src: '/keys/a,b.pem' })).to.throw(/not absolute or has a ','/);
    expect(() => secretArg({ id: 'a,src=/etc/shadow', src: '/k' })).to.throw(/not a plain name/);
  });

  it('KVC_BUILD_ARGS may not set KVC_SIGNER (kvc passes it itself)', () => {
    expect(() => parseBuildArgs('KVC_SIGNER=abc', '/etc/kvc/usbip.conf')).to.throw(/sets KVC_SIGNER, which kvc passes itself/);
  });
});
