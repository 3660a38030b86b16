// Unit tests of the runtime adapter against a fake podman (a script on PATH that prints what the
// real one prints; the real one is in the integration tests): a container named by an ID prefix
// or another name is not the one asked for (issue 25, item 8), and a broken runtime's "not found"
// does not read as a missing image (item 12).
import { expect } from 'chai';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { ContainerRuntime } from '../../../lib/runtime/container-runtime.js';
import { isNoSuchObject } from '../../../lib/runtime/parse.js';
import { createLogger } from '../../../lib/log/logger.js';

describe('runtime adapter: exact names, precise "no such"', () => {
  let bin;
  beforeEach(() => { bin = mkdtempSync(join(tmpdir(), 'kvc-fake-podman-')); });
  afterEach(() => rmSync(bin, { recursive: true, force: true }));
  const runtime = (script, options = {}) => {
    writeFileSync(join(bin, 'podman'), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, 'podman'), 0o755);
    return new ContainerRuntime('podman', { logger: createLogger({ style: 'plain', stream: new PassThrough() }), env: { PATH: `${bin}:/usr/bin:/bin` }, ...options });
  };
  // What podman 4.3 answers to `container inspect abc` when a container's ID starts with abc.
  const inspected = (name) => JSON.stringify([{ Id: 'abc123def456', Name: name, State: { Running: true, Pid: 4242 }, HostConfig: {} }]);

  it('container inspect NAME that matched another container (an ID prefix) is not NAME', async () => {
    const podman = runtime(`echo '${inspected('someone-elses')}'`);
    expect(await podman.inspectContainer('abc')).to.equal(undefined);
    expect(await podman.inspectContainerAccess('abc')).to.equal(undefined);
    const exact = runtime(`echo '${inspected('ctr-a')}'`);
    expect(await exact.inspectContainer('ctr-a')).to.deep.equal({ id: 'abc123def456', name: 'ctr-a', pid: 4242, running: true });
  });

  it('"runtime … not found" is a broken runtime, not a missing object', () => {
    expect(isNoSuchObject('Error: default OCI runtime "crun" not found: invalid argument')).to.equal(false);
    expect(isNoSuchObject('Error: localhost/usbip-1.0.0:9.9: image not known')).to.equal(true);
    expect(isNoSuchObject('Error: no such container ctr-a')).to.equal(true);
    expect(isNoSuchObject('Error: No such image: localhost/usbip-1.0.0:9.9')).to.equal(true);
    expect(isNoSuchObject('Error: no container with name or ID "x" found: no such container')).to.equal(true);
  });

  it('an image inspect that fails because the runtime is broken is an error, not "no image"', async () => {
    const podman = runtime('echo \'Error: default OCI runtime "crun" not found: invalid argument\' >&2; exit 125');
    const result = await podman.inspectImage('localhost/usbip-1.0.0:6.1.0-56-amd64').then(() => 'no error', (error) => error.message);
    expect(result).to.match(/inspecting images failed \(podman exit 125\)/);
  });

  // A podman that never answers (a storage lock held by a hung process does this to the real one).
  it('a query that hangs fails after its timeout, naming the command, and the child is gone', async () => {
    const pidFile = join(bin, 'pid');
    const podman = runtime(`echo $$ > ${pidFile}; exec sleep 60`, { queryTimeoutMs: 300 });
    const started = Date.now();
    const outcome = await Promise.race([
      podman.inspectContainer('kvc-usbip-tools').then(() => 'answered', (error) => error),
      new Promise((resolve) => setTimeout(() => resolve('still waiting after 3 s'), 3000)),
    ]);
    expect(outcome).to.be.an('error');
    expect(outcome.message).to.match(/podman container inspect .*kvc-usbip-tools.* did not answer within 0\.3 s/);
    expect(Date.now() - started).to.be.below(2500);
    const pid = Number((await import('node:fs')).readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).to.throw(/ESRCH/);
  });

  it('a push, a long run, has no timeout', async () => {
    const podman = runtime('sleep 1', { queryTimeoutMs: 300 });
    await podman.push('localhost/x:1', 'quay.io/me/x:1', { tlsVerify: true });
  });
});
