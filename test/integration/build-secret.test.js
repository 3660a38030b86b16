// Integration test: the module signing key reaches a build only as a build secret. A build made the
// way kvc builds (signing.ts's signingInputs → args.ts's --secret → ContainerRuntime.build, with the
// usbip instance's own sign-modules step and Debian's sign-file) signs a stand-in module, and then
// the key's bytes (its PEM text, any line of its base64 body, its DER) are searched for in every
// file of `podman image save` (each layer, the config with labels and history), in
// `podman image inspect` and in the build's whole output. Variants that leak the key (copied from
// the secret into a layer, COPY'd from the context, printed to the log, put in a label) must be
// caught by the same search, so a search that finds nothing means something.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createPrivateKey } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { ContainerRuntime } from '../../lib/runtime/container-runtime.js';
import { createLogger } from '../../lib/log/logger.js';
import { createKvcKey } from '../../lib/signing/create-key.js';
import { signingInputs, signerLabel, signerOf } from '../../lib/signing/signer.js';
import { IMAGE_LABEL as LABEL } from '../../lib/images/labels.js';
import { CONTAINERS_CONF, KVER, ROOT, kvc, makeConfigDir, podman, removeDir } from './harness.js';
import { imageTagFor } from '../../lib/images/names.js';

const TAG = `localhost/kvc-it-secret-${process.pid}`;
const NETWORK = process.env.KVC_TEST_BUILD_NETWORK ?? 'host';

// A kbuild stage (Debian's sign-file), then the step the usbip Containerfile has: the secrets
// mounted for one RUN, sign-modules signing with the hash a kernel config names (sha512 here, not
// sign-file's usual sha256, to see that the config is read). `leak` adds a step that leaks the key.
function containerfile(leak = '') {
  return `FROM docker.io/library/debian:bookworm-slim AS kbuild
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends linux-kbuild-6.1 >/dev/null && rm -rf /var/lib/apt/lists/*
FROM kbuild
COPY sign-modules /usr/lib/kvc/sign-modules
ARG KVER
ARG KMODVER
ARG KVC_SIGNER=
RUN --mount=type=secret,id=kvc_sign_key --mount=type=secret,id=kvc_sign_cert set -e; \\
    mkdir -p /kdir /out/extra; printf 'CONFIG_MODULE_SIG_HASH="sha512"\\n' > /kdir/.config; \\
    printf 'a stand-in for a module built for %s\\n' "$KVER" > /out/extra/dummy.ko; \\
    sh /usr/lib/kvc/sign-modules /kdir /out/extra/*.ko; rm -rf /kdir
${leak}`;
}

// Every needle the key gives: the PEM text, each line of its base64 body (a line is enough to
// rebuild most of a key), the body in one piece, the DER of the PKCS#8 and of the bare RSA key.
function needles(pem) {
  const text = pem.toString('utf8');
  const body = text.split('\n').filter((line) => line !== '' && !line.startsWith('-----'));
  const key = createPrivateKey(pem);
  return [
    ['PEM', Buffer.from(text.trim())],
    ...body.filter((line) => line.length >= 40).map((line, i) => [`PEM line ${i + 1}`, Buffer.from(line)]),
    ['PEM body in one line', Buffer.from(body.join(''))],
    ['DER (PKCS#8)', key.export({ type: 'pkcs8', format: 'der' })],
    ['DER (PKCS#1)', key.export({ type: 'pkcs1', format: 'der' })],
  ];
}

function filesUnder(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const info = statSync(path);
    return info.isDirectory() ? filesUnder(path) : info.isFile() ? [path] : [];
  });
}

// Where the key's bytes are found: "<where>: <needle>" for each hit.
function findKey(pem, image, log) {
  const work = mkdtempSync(join(tmpdir(), 'kvc-it-save-'));
  try {
    podman(['image', 'save', '--quiet', '--format', 'docker-archive', '-o', join(work, 'image.tar'), image]);
    mkdirSync(join(work, 'x'));
    execFileSync('tar', ['-xf', join(work, 'image.tar'), '-C', join(work, 'x')]);
    const places = filesUnder(join(work, 'x')).map((path) => {
      const bytes = readFileSync(path);
      return [`saved ${path.slice(work.length + 3)}`, bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes];
    });
    places.push(['image inspect', Buffer.from(podman(['image', 'inspect', image]))]);
    places.push(['history', Buffer.from(podman(['history', '--no-trunc', '--format', '{{.CreatedBy}} {{.Comment}}', image]))]);
    places.push(['build log', Buffer.from(log.join('\n'))]);
    expect(places.filter(([where]) => where.startsWith('saved ')).length).to.be.greaterThan(2);
    const hits = [];
    for (const [where, bytes] of places) for (const [what, needle] of needles(pem)) if (bytes.includes(needle)) hits.push(`${where}: ${what}`);
    return hits;
  } finally {
    removeDir(work);
  }
}

describe('the signing key reaches a build only as a secret (integration, real podman)', function () {
  this.timeout(600_000);
  const logger = createLogger({ style: 'plain', stream: new PassThrough() });
  const runtime = new ContainerRuntime('podman', { logger, env: { ...process.env, CONTAINERS_CONF } });
  let dir;
  let key;
  let pem;
  const built = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-it-secret-'));
    key = await createKvcKey({ keyDir: join(dir, 'keys'), dkmsDir: join(dir, 'dkms') });
    pem = readFileSync(key.key);
  });
  after(() => {
    for (const tag of built) try { podman(['rmi', tag], { stdio: 'ignore' }); } catch { /* gone */ }
    if (dir !== undefined) removeDir(dir);
  });

  // Builds the test Containerfile (with `leak`) in a fresh context through kvc's runtime adapter and
  // kvc's signing inputs; returns the image and the build's output.
  async function build(name, leak = '', { extraLabels = {}, withKeyInContext = false, unsigned = false } = {}) {
    const context = join(dir, name);
    mkdirSync(context);
    copyFileSync(join(ROOT, 'host/etc/kvc/usbip/sign-modules'), join(context, 'sign-modules'));
    if (withKeyInContext) copyFileSync(key.key, join(context, 'leaked.pem'));
    writeFileSync(join(context, 'Containerfile'), containerfile(leak));
    const signing = signingInputs(unsigned ? undefined : key);
    const tag = `${TAG}-${name}:1`;
    built.push(tag);
    const log = [];
    await runtime.build({
      tag, file: join(context, 'Containerfile'), context,
      buildArgs: { KVER: '6.1.0-kvc-test', KMODVER: '1.0.0', ...signing.buildArgs },
      labels: { [LABEL.instance]: `kvc-it-secret-${process.pid}`, [LABEL.signer]: signing.signerLabel, ...extraLabels },
      secrets: signing.secrets, network: NETWORK,
    }, (line) => log.push(line));
    return { tag, log };
  }

  it('signs with the secret, sign-file and the config\'s hash, and no layer, label, history or log line holds the key', async () => {
    const { tag, log } = await build('clean');
    expect(log.join('\n')).to.match(/kvc: signed 1 module\(s\) with key [0-9a-f]+ \(sha512, \/usr\/lib\/linux-kbuild-6\.1\/scripts\/sign-file\)/);
    // The signer label names the key.
    expect(podman(['image', 'inspect', '--format', `{{index .Labels "${LABEL.signer}"}}`, tag]).trim()).to.equal(signerLabel(signerOf(key.certificate)));
    // The module carries a PKCS#7 signature (sha512) that the certificate verifies.
    const module = Buffer.from(podman(['run', '--rm', '--network=none', tag, 'cat', '/out/extra/dummy.ko'], { encoding: 'buffer' }));
    const marker = Buffer.from('~Module signature appended~\n');
    expect(module.subarray(-marker.length).equals(marker)).to.equal(true);
    const sigLength = module.readUInt32BE(module.length - marker.length - 4);
    const end = module.length - marker.length - 12;
    writeFileSync(join(dir, 'content'), module.subarray(0, end - sigLength));
    writeFileSync(join(dir, 'sig.p7'), module.subarray(end - sigLength, end));
    execFileSync('openssl', ['x509', '-inform', 'DER', '-in', key.cert, '-out', join(dir, 'cert.pem')]);
    execFileSync('openssl', ['cms', '-verify', '-binary', '-inform', 'DER', '-in', join(dir, 'sig.p7'), '-content', join(dir, 'content'), '-certfile', join(dir, 'cert.pem'), '-nointern', '-noverify', '-out', '/dev/null'], { stdio: 'pipe' });
    expect(execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', join(dir, 'sig.p7')], { encoding: 'utf8' })).to.match(/algorithm: sha512/);
    expect(findKey(pem, tag, log)).to.deep.equal([]);
  });

  it('without a key the same Containerfile builds as before: nothing signed, no secret, no signer label', async () => {
    const { tag, log } = await build('unsigned', '', { unsigned: true });
    expect(log.join('\n')).to.include('kvc: no signing key: modules left unsigned');
    expect(podman(['image', 'inspect', '--format', `{{index .Labels "${LABEL.signer}"}}`, tag]).trim()).to.be.oneOf(['', '<no value>']);
    expect(podman(['run', '--rm', '--network=none', tag, 'cat', '/out/extra/dummy.ko'])).to.equal('a stand-in for a module built for 6.1.0-kvc-test\n');
  });

  it('the search catches a key copied from the secret into a layer', async () => {
    const { tag, log } = await build('leak-layer', 'RUN --mount=type=secret,id=kvc_sign_key cp /run/secrets/kvc_sign_key /leaked.pem');
    expect(findKey(pem, tag, log).filter((hit) => hit.startsWith('saved '))).to.not.be.empty;
  });

  it('the search catches a key COPY\'d from the build context', async () => {
    const { tag, log } = await build('leak-copy', 'COPY leaked.pem /leaked.pem', { withKeyInContext: true });
    expect(findKey(pem, tag, log).filter((hit) => hit.startsWith('saved ') && hit.endsWith(': PEM'))).to.not.be.empty;
  });

  it('the search catches a key printed to the build log, and one put in a label', async () => {
    const printed = await build('leak-log', 'RUN --mount=type=secret,id=kvc_sign_key cat /run/secrets/kvc_sign_key >&2');
    expect(findKey(pem, printed.tag, printed.log).filter((hit) => hit.startsWith('build log: '))).to.not.be.empty;
    const labelled = await build('leak-label', '', { extraLabels: { 'io.kvc.test-leak': pem.toString('utf8').split('\n')[1] } });
    expect(findKey(pem, labelled.tag, labelled.log).filter((hit) => hit.startsWith('image inspect: '))).to.not.be.empty;
  });
});

// The whole path of kvc build (build.ts: the key found, its secrets, KVC_SIGNER and the label) on
// the real usbip instance: its Containerfile signs the modules with the kernel's own sign-file, and
// a changed key makes kvc build rebuild the image. Two full builds of the USB/IP modules.
describe('kvc build signs the usbip modules with its key, and rebuilds when the key changes (integration, real podman)', function () {
  this.timeout(1_200_000);
  const instance = `sbtest${process.pid}`;
  const image = `localhost/${instance}-1.0.0:${imageTagFor(KVER)}`;
  let configDir;
  let keys;
  const env = () => ({ KVC_KEY_DIR: keys, KVC_DKMS_DIR: join(keys, 'no-dkms') });

  before(() => {
    configDir = makeConfigDir();
    copyFileSync(join(configDir, 'usbip.conf'), join(configDir, `${instance}.conf`));
    keys = join(configDir, 'keys');
  });
  after(() => {
    try { podman(['rmi', image], { stdio: 'ignore' }); } catch { /* not built */ }
    if (configDir !== undefined) removeDir(configDir);
  });

  const modinfo = () => podman(['run', '--rm', '--network=none', image, 'modinfo', '-k', KVER, '-F', 'sig_key', 'usbip-core', 'usbip-host', 'vhci-hcd']).trim().split('\n');
  const serialOf = (sigKey) => sigKey.replaceAll(':', '').toLowerCase().replace(/^(00)+(?=.)/, '');

  it('signs each module with the key (modinfo sig_key = its serial), labels the signer, and leaves no key byte in the image or log', async () => {
    const first = await createKvcKey({ keyDir: keys, dkmsDir: join(keys, 'no-dkms') });
    const result = kvc(['build', instance, KVER], { configDir, env: env() });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.include(`its modules signed by ${first.certificate.subject} (key id ${first.certificate.keyId})`);
    expect(modinfo().map(serialOf)).to.deep.equal([first.certificate.serial, first.certificate.serial, first.certificate.serial]);
    expect(podman(['image', 'inspect', '--format', `{{index .Labels "${LABEL.signer}"}}`, image]).trim()).to.equal(signerLabel(signerOf(first.certificate)));
    const logPath = /; log: (\S+)/.exec(result.stderr)?.[1];
    expect(logPath, result.stderr).to.be.a('string');
    const log = readFileSync(logPath, 'utf8').split('\n');
    expect(log.join('\n')).to.match(/kvc: signed \d+ module\(s\) with key [0-9a-f]+ \(sha256, \S+sign-file\)/);
    expect(findKey(readFileSync(first.key), image, [...log, result.stderr, result.stdout])).to.deep.equal([]);
    const again = kvc(['build', instance, KVER], { configDir, env: env() });
    expect(again.stderr).to.include('is up to date');
  });

  it('a new key makes the image out of date: kvc build says why and signs with the new key', async () => {
    const second = await createKvcKey({ keyDir: keys, dkmsDir: join(keys, 'no-dkms') }, { replace: true });
    const result = kvc(['build', instance, KVER], { configDir, env: env() });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/rebuilding .*its modules are signed by CN=kvc module signing key .*, but kvc now signs with CN=kvc module signing key .*key id /);
    expect(modinfo().map(serialOf)).to.deep.equal([second.certificate.serial, second.certificate.serial, second.certificate.serial]);
  });
});
