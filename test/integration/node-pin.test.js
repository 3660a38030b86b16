// The Node binary `make install` ships (run as root on hosts) is the locked package's binary, checked
// against the SHA-256 committed in node.sha256: a tampered binary is refused by the build and install.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, openSync, readFileSync, readSync, writeSync, closeSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './harness.js';

const ARCH = { x64: 'x64', arm64: 'arm64' }[process.arch];
const VERSION = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).optionalDependencies[`node-linux-${ARCH}`];
const PACKAGE = `node-linux-${ARCH}@${VERSION}`;
const BINARY = join(ROOT, `node_modules/node-linux-${ARCH}/bin/node`);
const committed = () => readFileSync(join(ROOT, 'node.sha256'), 'utf8').split('\n').find((line) => line.endsWith(` ${PACKAGE}/bin/node`))?.split(/\s+/)[0];
const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');
const verify = (binary) => spawnSync(join(ROOT, 'scripts/verify-node.sh'), [binary, PACKAGE], { encoding: 'utf8' });

describe('the shipped Node binary is pinned', function () {
  this.timeout(180000);
  let dir;
  before(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-node-pin-')); });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('package-lock.json locks the platform package that holds the binary, with its integrity', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    const entry = lock.packages[`node_modules/node-linux-${ARCH}`];
    expect(entry.version).to.equal(VERSION);
    expect(entry.integrity).to.match(/^sha512-/);
    expect(lock.packages['node_modules/node'], 'the preinstall-script package "node" is gone').to.equal(undefined);
  });

  it('accepts the installed binary, whose SHA-256 is the committed one', () => {
    expect(committed()).to.match(/^[0-9a-f]{64}$/);
    expect(sha256(BINARY)).to.equal(committed());
    expect(verify(BINARY).status).to.equal(0);
  });

  it('refuses a binary with one byte changed, naming both hashes', () => {
    const copy = join(dir, 'node');
    copyFileSync(BINARY, copy);
    const fd = openSync(copy, 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, 4096);
    writeSync(fd, Buffer.from([byte[0] ^ 0xff]), 0, 1, 4096);
    closeSync(fd);
    const result = verify(copy);
    expect(result.status).to.equal(1);
    expect(result.stderr).to.include(committed()).and.to.include(sha256(copy)).and.to.include('refusing to ship it');
  });

  // The project's npm commands (Makefile, .ci/run, prepare.sh) go through scripts/npm-pinned.sh:
  // npm itself then runs on the pinned binary (npm_node_execpath), not on the host's older Node,
  // and says nothing about engines. (Before: npm ran on /usr/bin/node, v20, with EBADENGINE.)
  it('npm runs on the pinned Node, and npm ci prints no engine warning', () => {
    const ran = spawnSync(join(ROOT, 'scripts/npm-pinned.sh'), ['exec', '-c', 'printf "%s" "$npm_node_execpath"'], { cwd: ROOT, encoding: 'utf8' });
    expect(ran.status, ran.stderr).to.equal(0);
    expect(sha256(ran.stdout)).to.equal(committed());
    for (const file of ['Makefile', '.ci/run', 'test/setup/prepare.sh']) {
      expect(readFileSync(join(ROOT, file), 'utf8'), file).to.not.match(/^\s*(?:\[.*\] \|\| )?npm (?:ci|test|run)\b/m);
    }
    const clone = join(dir, 'clone');
    spawnSync('mkdir', ['-p', join(clone, 'scripts')]);
    for (const name of ['package.json', 'package-lock.json', 'node.sha256', 'scripts/npm-pinned.sh', 'scripts/verify-node.sh']) copyFileSync(join(ROOT, name), join(clone, name));
    spawnSync('chmod', ['+x', join(clone, 'scripts/npm-pinned.sh'), join(clone, 'scripts/verify-node.sh')]);
    const ci = spawnSync(join(clone, 'scripts/npm-pinned.sh'), ['ci', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: clone, encoding: 'utf8' });
    expect(ci.status, ci.stderr).to.equal(0);
    expect(`${ci.stdout}${ci.stderr}`).to.not.include('EBADENGINE');
    expect(sha256(join(clone, `node_modules/node-linux-${ARCH}/bin/node`))).to.equal(committed());
  });

  it('make install ships exactly that binary', () => {
    const dest = join(dir, 'tree');
    const result = spawnSync('make', ['--no-print-directory', '-s', 'install', `DESTDIR=${dest}`], { cwd: ROOT, encoding: 'utf8' });
    expect(result.status, result.stderr).to.equal(0);
    expect(sha256(join(dest, 'usr/local/lib/kvc/node'))).to.equal(committed());
  });
});
