// Unit tests: what the service builds with no person present (issue 25, item 7). The predicate on
// data, and the reconciler (real folders, lock and timers; a recording build that would have run
// on the old code) refusing an unpinned git:// source once, without retrying, naming the way out.
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { assertUnattendedBuildAllowed, unattendedBuildProblem, UnattendedBuildRefusedError } from '../../../lib/ops/unattended-sources.js';
import { Reconciler } from '../../../lib/service/reconciler.js';
import { createLogger } from '../../../lib/log/logger.js';

const COMMIT = 'a'.repeat(40);
const settings = (context, serviceUnpinned = false) => ({ name: 'simple', confPath: '/etc/kvc/simple.conf', softwareVersion: '1.0.0', modules: ['simple-kmod'], buildArgs: {}, context, serviceUnpinned });
const url = (u) => ({ kind: 'url', url: u, file: 'Dockerfile.rhel' });

describe('unattended builds: only from sources a person pinned', () => {
  it('a local folder and a commit-pinned remote are built; a branch, a tag or no ref are not, unless opted in', () => {
    expect(unattendedBuildProblem(settings({ kind: 'dir', path: '/etc/kvc/usbip', file: 'Containerfile', recipe: undefined }))).to.equal(undefined);
    expect(unattendedBuildProblem(settings(url(`git://github.com/x/kvc-simple-kmod.git#${COMMIT}`)))).to.equal(undefined);
    expect(unattendedBuildProblem(settings(url('git://github.com/x/kvc-simple-kmod.git')))).to.match(/not pinned to a commit/);
    expect(unattendedBuildProblem(settings(url('https://github.com/x/kvc-simple-kmod.git#v1.2')))).to.match(/at a branch or tag, not pinned/);
    expect(unattendedBuildProblem(settings(url('git://github.com/x/kvc-simple-kmod.git'), true))).to.equal(undefined);
    const error = (() => { try { assertUnattendedBuildAllowed(settings(url('git://github.com/x/k.git'))); } catch (e) { return e; } })();
    expect(error).to.be.instanceOf(UnattendedBuildRefusedError);
    expect(error.exitStatus).to.equal(78);
    expect(error.hint).to.include('KVC_SERVICE_UNPINNED=yes in /etc/kvc/simple.conf').and.include('kvc build simple');
  });

  it('the service\'s reconciler does not build an unpinned git:// source when a kernel is installed, and does not retry', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kvc-unattended-'));
    const lines = [];
    const stream = new PassThrough();
    stream.on('data', (chunk) => lines.push(String(chunk)));
    for (const kver of ['6.1.0-56-amd64', '6.1.0-58-amd64']) {
      mkdirSync(join(root, 'lib/modules', kver), { recursive: true });
      writeFileSync(join(root, 'lib/modules', kver, 'modules.dep'), '');
      utimesSync(join(root, 'lib/modules', kver), new Date(Date.now() - 60000), new Date(Date.now() - 60000));
    }
    const lifetime = new AbortController();
    const ctx = { configDir: '/x', runtime: { async imagesWithLabel() { return []; }, async removeImage() {} }, logger: createLogger({ style: 'plain', stream }), hostRoot: root, runDir: join(root, 'run'), keys: { keyDir: join(root, 'keys'), dkmsDir: join(root, 'dkms') }, runningKernel: '6.1.0-56-amd64', interactive: false };
    const unpinned = settings(url('git://github.com/x/kvc-simple-kmod.git'));
    const built = [];
    // As the runner wires it: the check, then the build.
    const reconciler = new Reconciler({ ctx, settings: unpinned, keep: 3, build: async (kver) => { assertUnattendedBuildAllowed(unpinned); built.push(kver); }, retryBaseMs: 50, retryMaxMs: 100, intervalMs: 60000, settleMs: 500, signal: lifetime.signal, staged: () => undefined });
    try {
      reconciler.request('kernel installed', '6.1.0-58-amd64');
      await reconciler.idle();
      await new Promise((resolve) => setTimeout(resolve, 300));
      await reconciler.idle();
      expect(built).to.deep.equal([]);
      const journal = lines.join('');
      expect(journal).to.include('simple: its build context git://github.com/x/kvc-simple-kmod.git is a remote source at its default branch, not pinned to a commit');
      expect(journal).to.not.include('retrying');
      expect([...reconciler.state().refused.keys()].sort()).to.deep.equal(['6.1.0-56-amd64', '6.1.0-58-amd64']);
    } finally {
      lifetime.abort(new Error('test over'));
      await reconciler.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
