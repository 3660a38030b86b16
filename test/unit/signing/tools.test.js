// Unit tests: kvc's use of keyctl and mokutil, through stand-ins put on PATH (no machine here has
// shim's EFI variables, and the system keyrings cannot be filled from user space): the stand-ins
// print the captured and composed outputs of test/fixtures/signing and record what they were given.
import { expect } from 'chai';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readKernelKeys } from '../../../lib/signing/keyring-reader.js';
import { readMokState } from '../../../lib/signing/mok.js';
import { enrollKey } from '../../../lib/signing/enroll.js';
import { loadKeyPair } from '../../../lib/signing/signing-key.js';
import { createKvcKey } from '../../../lib/signing/create-key.js';

const FIXTURES = new URL('../../fixtures/signing/', import.meta.url).pathname;

describe('signing tools: keyctl and mokutil as kvc runs them', function () {
  this.timeout(30_000);
  let dir;
  let bin;
  let env;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-sigtools-'));
    bin = join(dir, 'bin');
    mkdirSync(bin);
    mkdirSync(join(dir, 'root/proc'), { recursive: true });
    env = { ...process.env, PATH: `${bin}:/usr/bin:/bin`, FIXTURES, STATE: dir };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const tool = (name, script) => {
    writeFileSync(join(bin, name), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  // A keyctl that answers `keyctl list <decimal serial>` from keyctl-list-secureboot.txt.
  const fakeKeyctl = () => tool('keyctl', [
    'echo "$*" >>"$STATE/keyctl.args"',
    'case "$2" in 169552957) ring=.builtin_trusted_keys ;; 186330173) ring=.secondary_trusted_keys ;; 203107389) ring=.machine ;; 219884605) ring=.platform ;; *) echo "keyctl_read_alloc: Required key not available" >&2; exit 1 ;; esac',
    'awk -v r="== $ring ==" \'/^== / { on = ($0 == r); next } on\' "$FIXTURES/keyctl-list-secureboot.txt"',
  ].join('\n'));

  it('reads /proc/keys, then lists each trusted keyring by its serial in decimal', async () => {
    copyFileSync(join(FIXTURES, 'proc-keys-secureboot.txt'), join(dir, 'root/proc/keys'));
    fakeKeyctl();
    const kernel = await readKernelKeys(join(dir, 'root'), env);
    expect(kernel.note).to.equal(undefined);
    expect(kernel.keys.find((key) => key.subject === 'kvc fixture signing key').keyrings).to.deep.equal(['.machine']);
    expect(readFileSync(join(dir, 'keyctl.args'), 'utf8').trim().split('\n')).to.deep.equal(['list 169552957', 'list 186330173', 'list 203107389', 'list 219884605']);
  });
  it('without keyctl, says membership is unknown', async () => {
    copyFileSync(join(FIXTURES, 'proc-keys-secureboot.txt'), join(dir, 'root/proc/keys'));
    const kernel = await readKernelKeys(join(dir, 'root'), { ...env, PATH: bin });
    expect(kernel.note).to.match(/keyctl \(package keyutils\) is not installed/);
    expect(kernel.keys).to.have.length(6);
  });
  it('without /proc/keys, knows nothing', async () => {
    const kernel = await readKernelKeys(join(dir, 'root'), env);
    expect(kernel.keys).to.equal(undefined);
    expect(kernel.note).to.match(/cannot read \/proc\/keys \(ENOENT\)/);
  });

  // A mokutil keeping its lists in $STATE: --import reads the password twice from stdin and queues.
  const fakeMokutil = () => tool('mokutil', [
    'echo "$*" >>"$STATE/mokutil.args"',
    'case "$1" in',
    '  --list-enrolled) if [ -s "$STATE/enrolled" ]; then cat "$STATE/enrolled"; else echo "MokListRT is empty" >&2; exit 1; fi ;;',
    '  --list-new) if [ -s "$STATE/new" ]; then cat "$STATE/new"; else echo "MokNew is empty" >&2; exit 1; fi ;;',
    '  --import) printf "input password: "; read -r one; printf "input password again: "; read -r two; [ "$one" = "$two" ] || { echo "password doesn\'t match"; exit 1; }',
    '    echo "$one" >"$STATE/password"; cp "$2" "$STATE/imported.der"',
    '    printf "[key 1]\\nSHA1 Fingerprint: %s\\n" "$(openssl x509 -inform DER -in "$2" -noout -fingerprint -sha1 | sed "s/.*=//" | tr A-F a-f)" >"$STATE/new" ;;',
    'esac',
  ].join('\n'));

  it('reads the MOK lists; "is empty" is an empty list, not an error', async () => {
    fakeMokutil();
    expect(await readMokState('83:A7:16:E8:59:02:62:9C:D2:0B:3E:A2:DE:8E:0E:57:5F:CF:D0:12', env)).to.deep.equal({ state: 'absent', note: undefined });
    copyFileSync(join(FIXTURES, 'mokutil-list-enrolled.txt'), join(dir, 'enrolled'));
    expect((await readMokState('83:A7:16:E8:59:02:62:9C:D2:0B:3E:A2:DE:8E:0E:57:5F:CF:D0:12', env)).state).to.equal('enrolled');
  });
  it('without mokutil, the state is unknown and says why', async () => {
    expect(await readMokState('aa', { ...env, PATH: bin })).to.deep.equal({ state: 'unknown', note: 'mokutil is not installed (package mokutil): the MOK list cannot be read' });
  });

  it('kvc key enroll: queues the DER certificate under a password printed once, and says what MokManager asks', async () => {
    fakeMokutil();
    const key = await createKvcKey({ keyDir: join(dir, 'keys'), dkmsDir: join(dir, 'dkms') });
    const printed = [];
    const outcome = await enrollKey(key, { ask: false, hostRoot: join(dir, 'root'), print: (line) => printed.push(line), env });
    expect(outcome).to.equal('queued');
    const password = readFileSync(join(dir, 'password'), 'utf8').trim();
    expect(password).to.match(/^[a-z2-9]{8}$/);
    const said = printed.join('\n');
    expect(said).to.include(`The password: ${password}`);
    expect(said.split(password)).to.have.length(2);
    expect(said).to.match(/reboot this host/);
    expect(said).to.include('"Enroll MOK", then "Continue", then "Yes", type the password, then "Reboot"');
    expect(readFileSync(join(dir, 'imported.der')).equals(key.certificate.der)).to.equal(true);
    // Asked again: it waits for MokManager already; mokutil is not run a second time.
    const again = [];
    expect(await enrollKey(key, { ask: false, hostRoot: join(dir, 'root'), print: (line) => again.push(line), env })).to.equal('pending-already');
    expect(again.join('\n')).to.match(/queued for enrolment already: reboot/);
    expect(readFileSync(join(dir, 'mokutil.args'), 'utf8').match(/--import/g)).to.have.length(1);
  });
  it('kvc key enroll: hands a PEM certificate over as DER (mokutil takes DER only)', async () => {
    fakeMokutil();
    const made = await createKvcKey({ keyDir: join(dir, 'keys'), dkmsDir: join(dir, 'dkms') });
    const pem = join(dir, 'cert.pem');
    writeFileSync(pem, `-----BEGIN CERTIFICATE-----\n${made.certificate.der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END CERTIFICATE-----\n`);
    const key = await loadKeyPair({ source: 'config', key: made.key, cert: pem });
    await enrollKey(key, { ask: false, hostRoot: join(dir, 'root'), print: () => {}, env });
    expect(readFileSync(join(dir, 'imported.der')).equals(made.certificate.der)).to.equal(true);
  });
  it('kvc key enroll: nothing to do for a key the kernel trusts already', async () => {
    fakeMokutil();
    fakeKeyctl();
    const key = await createKvcKey({ keyDir: join(dir, 'keys'), dkmsDir: join(dir, 'dkms') });
    writeFileSync(join(dir, 'root/proc/keys'), `0c1b2c3d I------     1 perm 1f0f0000     0     0 keyring   .machine: 1\n0c1b2c3e I------     1 perm 1f010000     0     0 asymmetri ${key.certificate.commonName}: ${key.certificate.keyId}: X509.rsa 12345678 []\n`);
    tool('keyctl', `echo "1 key in keyring:"; echo "203107390: ---lswrv     0     0 asymmetric: ${key.certificate.commonName}: ${key.certificate.keyId}"`);
    const printed = [];
    expect(await enrollKey(key, { ask: false, hostRoot: join(dir, 'root'), print: (line) => printed.push(line), env })).to.equal('trusted-already');
    expect(printed.join('\n')).to.match(/trusts .* already \(\.machine\)/);
  });
});
