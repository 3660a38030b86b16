// Unit tests: reading the kernel's keyrings (/proc/keys, keyctl list) and what kvc key status
// concludes. The captured fixtures are real kernel and keyctl output; the Secure Boot ones are
// composed in the same formats (test/fixtures/signing/README.md says which is which).
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyIdOfDescription, keyringIds, parseKeyctlList, parseProcKeys, trustedKeys } from '../../../lib/signing/keyrings.js';
import { keyAdvice } from '../../../lib/signing/key-advice.js';

const FIXTURES = new URL('../../fixtures/signing/', import.meta.url).pathname;
const text = (name) => readFileSync(join(FIXTURES, name), 'utf8');

// keyctl-list-secureboot.txt holds one `keyctl list` per keyring under "== name ==" headers.
function listsOf(name) {
  const lists = new Map();
  let ring;
  for (const line of text(name).split('\n')) {
    const header = /^== (\S+) ==$/.exec(line);
    if (header !== null) lists.set((ring = header[1]), '');
    else if (ring !== undefined) lists.set(ring, `${lists.get(ring)}${line}\n`);
  }
  return new Map([...lists].map(([key, value]) => [key, parseKeyctlList(value)]));
}

describe('keyrings: /proc/keys', () => {
  it('reads real lines: keyrings by name, X.509 keys as "subject: id" (captured)', () => {
    const keys = parseProcKeys(text('proc-keys-captured.txt'));
    expect(keys.find((key) => key.id === '38e79ead')).to.deep.equal({ id: '38e79ead', type: 'asymmetri', description: 'kvc fixture signing key: 079c516759b46e5bd6df47f9d932579ae074e759' });
    expect(keys.find((key) => key.id === '3635bc76').description).to.equal('Example Org: DKMS module signing key: 61ea4c94296a2be0782cd59d7cc635af47cbeb47');
    expect(keyringIds(keys).get('.builtin_trusted_keys')).to.equal('07c7b273');
    expect(keyringIds(keys).get('kvc-fixture-ring')).to.equal('29a7355e');
  });
  it('takes the id after the last ": " (a subject may hold ": " itself)', () => {
    expect(keyIdOfDescription('Example Org: DKMS module signing key: 61ea4c94296a2be0782cd59d7cc635af47cbeb47')).to.equal('61ea4c94296a2be0782cd59d7cc635af47cbeb47');
    expect(keyIdOfDescription('.builtin_trusted_keys')).to.equal(undefined);
  });
  it('skips lines of another shape', () => {
    expect(parseProcKeys('garbage\n\n12345678 short\n')).to.deep.equal([]);
  });
});

describe('keyrings: keyctl list', () => {
  it('reads real output (captured)', () => {
    expect(parseKeyctlList(text('keyctl-list-captured.txt'))).to.deep.equal([
      { id: 954703533, type: 'asymmetric', description: 'kvc fixture signing key: 079c516759b46e5bd6df47f9d932579ae074e759' },
      { id: 909491318, type: 'asymmetric', description: 'Example Org: DKMS module signing key: 61ea4c94296a2be0782cd59d7cc635af47cbeb47' },
    ]);
  });
  it('reads an empty keyring and a key it may not describe as nothing', () => {
    expect(parseKeyctlList('keyring is empty\n')).to.deep.equal([]);
    expect(parseKeyctlList('1 key in keyring:\n 12345678: key inaccessible (Permission denied)\n')).to.deep.equal([]);
  });
});

describe('keyrings: the keys the kernel trusts for modules (composed Secure Boot guest)', () => {
  const proc = parseProcKeys(text('proc-keys-secureboot.txt'));
  const lists = listsOf('keyctl-list-secureboot.txt');
  it('finds the trusted keyrings\' serials in /proc/keys, for keyctl', () => {
    const ids = keyringIds(proc);
    expect(['.builtin_trusted_keys', '.secondary_trusted_keys', '.machine', '.platform'].map((ring) => Number.parseInt(ids.get(ring), 16))).to.deep.equal([169552957, 186330173, 203107389, 219884605]);
  });
  it('names each key\'s keyring; a key in another keyring is not trusted', () => {
    const trusted = trustedKeys(proc, lists);
    expect(trusted.find((key) => key.keyId === '079c516759b46e5bd6df47f9d932579ae074e759')).to.deep.equal({ keyId: '079c516759b46e5bd6df47f9d932579ae074e759', subject: 'kvc fixture signing key', keyrings: ['.machine'] });
    expect(trusted.find((key) => key.subject === 'Microsoft Corporation UEFI CA 2011').keyrings).to.deep.equal(['.platform']);
    expect(trusted.find((key) => key.subject === 'Debian Secure Boot CA').keyrings).to.deep.equal(['.builtin_trusted_keys']);
    // In kvc-unrelated only (a keyring of root's own): not trusted for modules.
    expect(trusted.map((key) => key.keyId)).to.not.include('61ea4c94296a2be0782cd59d7cc635af47cbeb47');
    // .blacklist's hash entries are not keys.
    expect(trusted).to.have.length(5);
  });
  it('without keyctl, takes every X.509 key /proc/keys shows, keyring unknown', () => {
    const trusted = trustedKeys(proc, undefined);
    expect(trusted).to.have.length(6);
    expect(trusted.every((key) => key.keyrings.length === 1 && key.keyrings[0] === 'unknown')).to.equal(true);
  });
});

describe('kvc key status: what to do next', () => {
  const key = { source: 'kvc', subject: 'CN=kvc module signing key (h)', keyId: '079c' };
  const base = { secureBoot: 'on', lockdown: 'integrity', refusal: 'the kernel is locked down (lockdown=integrity), which refuses unsigned modules', key, trustedIn: [], mok: 'absent' };
  const cases = [
    ['no key on a locked-down kernel: create, enroll, reboot', { ...base, key: 'none', mok: 'unknown' }, 'no-key', /run kvc key create, then kvc key enroll, and reboot/],
    ['no key where unsigned modules load: nothing', { ...base, secureBoot: 'off', lockdown: 'none', refusal: undefined, key: 'none' }, 'no-key', /^nothing: this kernel loads unsigned modules/],
    ['a key the kernel trusts: nothing', { ...base, trustedIn: ['.machine'], mok: 'enrolled' }, 'trusted', /^nothing: the running kernel trusts/],
    ['queued: reboot, with MokManager\'s steps', { ...base, mok: 'pending' }, 'pending', /^reboot: .*"Enroll MOK", then "Continue", then "Yes", type the password, then "Reboot"/],
    ['in the MOK list, not in the kernel', { ...base, mok: 'enrolled' }, 'enrolled-not-trusted', /mokutil --trust-mok and reboot/],
    ['not enrolled on a locked-down kernel: enroll', base, 'not-enrolled', /^run kvc key enroll, then reboot/],
    ['not enrolled, Secure Boot off: not needed now', { ...base, secureBoot: 'off', lockdown: 'none', refusal: undefined }, 'not-enrolled', /^not needed now/],
    ['a key that cannot be used: its fix', { ...base, key: { error: 'x may be read by others', hint: 'chmod 600 x' } }, 'unknown', /^chmod 600 x$/],
    ['nothing readable (not root)', { ...base, trustedIn: undefined, mok: 'unknown' }, 'unknown', /as root/],
  ];
  for (const [title, facts, enrolment, next] of cases) {
    it(title, () => {
      const advice = keyAdvice(facts);
      expect(advice.enrolment).to.equal(enrolment);
      expect(advice.next).to.match(next);
    });
  }
});
