// Unit test of what a build leaves and kvc removes (ImageCommands.removeBuildLeftovers), with a
// fake `podman` on PATH (a small script that answers from a table of images and records each
// call): the order of the storage's answers, and an image named between kvc's look and its
// removal, cannot be arranged with the real podman. The real podman's side is proven by the
// integration tests (service-start: no step image holding the kernel's files is left).
import { expect } from 'chai';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageCommands } from '../../../lib/runtime/image-commands.js';

const KVER = '6.1.0-99-amd64';
const quiet = { error() {}, warn() {}, info() {}, verbose() {}, debug() {} };

// Images as podman inspects them: leaf (the builder's last step, KVER in its RUN), two
// metadata steps below it, then the toolchain (no KVER, holds files: the walk stops there).
function table() {
  const image = (id, parent, newest) => ({ Id: id, RepoTags: [], Parent: parent, Labels: {}, History: [{ created_by: '/bin/sh -c apt-get install build-essential' }, { created_by: newest }] });
  return {
    leaf: image('leaf', 'arg2', `|2 KMODVER=1.0.0 KVER=${KVER} /bin/sh -c make modules`),
    arg2: image('arg2', 'arg1', '/bin/sh -c #(nop) ARG KMODVER'),
    arg1: image('arg1', 'toolchain', '/bin/sh -c #(nop) ARG KVER'),
    toolchain: image('toolchain', '', '/bin/sh -c apt-get update && apt-get install -y build-essential'),
  };
}

describe('runtime: removing the step images a build left (fake podman)', () => {
  let dir;
  let runtime;
  const calls = () => readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  const setUp = (options = {}) => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-leftovers-'));
    writeFileSync(join(dir, 'calls'), '');
    writeFileSync(join(dir, 'images.json'), JSON.stringify({ ...table(), ...(options.extra ?? {}) }));
    // The fake: `images` lists the leaf, `image inspect` answers from the table (a batch of
    // several images, kvc's look just before the removal, sees `namedLater` named by then), `rmi`
    // is recorded.
    writeFileSync(join(dir, 'podman'), `#!${process.execPath}
const fs = require('node:fs');
const args = process.argv.slice(2).filter((arg) => !arg.startsWith('--events-backend'));
fs.appendFileSync(${JSON.stringify(join(dir, 'calls'))}, JSON.stringify(args) + '\\n');
const images = JSON.parse(fs.readFileSync(${JSON.stringify(join(dir, 'images.json'))}, 'utf8'));
if (args[0] === 'images') { process.stdout.write(${JSON.stringify((options.leaves ?? ['leaf']).join('\n') + '\n')}); process.exit(0); }
if (args[0] === 'image' && args[1] === 'inspect') {
  const ids = args.slice(2);
  const found = ids.map((id) => images[id]).filter(Boolean).map((image) => (ids.length > 1 && image.Id === ${JSON.stringify(options.namedLater ?? '')} ? { ...image, RepoTags: ['localhost/someone:kept'] } : image));
  process.stdout.write(JSON.stringify(found));
  process.exit(found.length === ids.length ? 0 : 125);
}
if (args[0] === 'rmi') process.exit(0);
process.exit(0);
`);
    chmodSync(join(dir, 'podman'), 0o755);
    runtime = new ImageCommands('podman', { logger: quiet, env: { PATH: `${dir}:/usr/bin:/bin` } });
  };
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('walks down from the leaf through the kernel\'s steps, stops at the toolchain, and removes them in one rmi, children first', async () => {
    setUp();
    expect(await runtime.removeBuildLeftovers({ 'io.kvc.instance': 'usbip' }, KVER)).to.equal(3);
    const rmi = calls().filter((args) => args[0] === 'rmi');
    expect(rmi).to.deep.equal([['rmi', '--no-prune', 'leaf', 'arg2', 'arg1']]);
  });

  it('an image named between the look and the removal is kept (and so are its parents, by podman)', async () => {
    setUp({ namedLater: 'arg2' });
    await runtime.removeBuildLeftovers({ 'io.kvc.instance': 'usbip' }, KVER);
    const rmi = calls().filter((args) => args[0] === 'rmi');
    expect(rmi).to.have.length(1);
    expect(rmi[0]).to.not.include('arg2');
    expect(rmi[0]).to.include('leaf');
  });

  it('another kernel\'s build: nothing of it is removed', async () => {
    setUp();
    expect(await runtime.removeBuildLeftovers({ 'io.kvc.instance': 'usbip' }, '6.12.117+deb12-amd64')).to.equal(0);
    expect(calls().filter((args) => args[0] === 'rmi')).to.deep.equal([]);
  });

  it('many leaves at several depths: one inspect per depth, and the rmi lists every child before its parent', async () => {
    // x was built on y, y on leaf (a later build's label steps on an earlier one's last step):
    // the walk meets leaf at depth 0 (a leaf itself) before it meets y, leaf's child.
    const label = (id, parent) => ({ Id: id, RepoTags: [], Parent: parent, Labels: {}, History: [{ created_by: `/bin/sh -c #(nop) LABEL "io.kvc.kernel"="${KVER}"` }] });
    setUp({ leaves: ['leaf', 'x'], extra: { x: label('x', 'y'), y: label('y', 'leaf') } });
    expect(await runtime.removeBuildLeftovers({ 'io.kvc.instance': 'usbip' }, KVER)).to.equal(5);
    const inspects = calls().filter((args) => args[0] === 'image' && args[1] === 'inspect');
    // depths: (leaf, x), (arg2, y), (arg1), (toolchain), then the look just before the removal
    expect(inspects).to.have.length(5);
    const [rmi] = calls().filter((args) => args[0] === 'rmi');
    const order = rmi.slice(2);
    expect(order).to.have.members(['leaf', 'x', 'y', 'arg2', 'arg1']);
    for (const [child, parent] of [['x', 'y'], ['y', 'leaf'], ['leaf', 'arg2'], ['arg2', 'arg1']]) expect(order.indexOf(child), `${child} before ${parent}`).to.be.below(order.indexOf(parent));
  });
});
