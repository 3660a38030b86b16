// Unit tests: the dry-run adapter. A recording fake stands in for the real runtime port (no
// podman here; the real one under a dry run is exercised by test/integration/dry-run.test.js): a
// change prints its exact command line and reaches no real method, a query goes to the real one.
import { expect } from 'chai';
import { DryRunRuntime } from '../../../lib/runtime/dry-run-runtime.js';
import { isWould } from '../../../lib/host/effect.js';
import * as args from '../../../lib/runtime/args.js';
import { commandLine } from '../../../lib/runtime/command-runner.js';

// A RuntimePort whose every method records its call and answers something recognisable.
function recordingPort(name = 'podman') {
  const calls = [];
  const image = { id: 'abc', names: ['localhost/usbip-1.0.0:6.1.0-56-amd64'], labels: {}, parent: '' };
  const record = (method, answer) => (...callArgs) => { calls.push([method, ...callArgs]); return answer(); };
  const port = {
    name,
    describe: record('describe', async () => ({ version: '5.4.2', storage: '/var/lib/containers/storage' })),
    inspectImages: record('inspectImages', async () => [image]),
    inspectImage: record('inspectImage', async () => image),
    imagesWithLabel: record('imagesWithLabel', async () => [image]),
    probe: record('probe', async () => ({ exitCode: 0, stdout: 'probed', stderr: '' })),
    toolRunPrefix: record('toolRunPrefix', () => ['run', '--rm']),
    inspectContainer: record('inspectContainer', async () => ({ id: 'c', name: 'kvc-usbip-tools', pid: 42, running: true })),
    inspectContainerAccess: record('inspectContainerAccess', async () => undefined),
  };
  for (const method of ['build', 'tag', 'removeImage', 'push', 'pull', 'runModuleCommand', 'runTool', 'execTool', 'captureExec', 'runHook', 'startToolsHolder', 'removeContainer']) {
    port[method] = record(method, async () => { throw new Error(`the real ${method} ran in a dry run`); });
  }
  port.runDaemon = record('runDaemon', () => { throw new Error('the real runDaemon ran in a dry run'); });
  return { port, calls };
}

describe('DryRunRuntime: changes are printed, queries are real', () => {
  it('a build prints the real adapter\'s exact command line, returns a Would, and does not call the real build', async () => {
    const { port, calls } = recordingPort();
    const printed = [];
    const runtime = new DryRunRuntime(port, (line) => printed.push(line));
    const spec = { tag: 'localhost/usbip-1.0.0:6.1.0-56-amd64.kvc-pending-1', file: '/etc/kvc/usbip/Containerfile', context: '/etc/kvc/usbip', buildArgs: { KVER: '6.1.0-56-amd64' }, labels: { 'io.kvc.instance': 'usbip' }, network: undefined };
    const effect = await runtime.build(spec, () => { throw new Error('no output in a dry run'); });
    expect(isWould(effect)).to.equal(true);
    expect(printed).to.deep.equal([commandLine('podman', args.buildArgs('podman', spec))]);
    expect(printed[0]).to.match(/^podman --events-backend=none build --file \/etc\/kvc\/usbip\/Containerfile /);
    expect(effect.would).to.equal(printed[0]);
    expect(calls).to.deep.equal([]);
  });

  it('every other change prints and reaches no real method; module commands answer a Would, tools and hooks exit 0 with no output', async () => {
    const { port, calls } = recordingPort();
    const printed = [];
    const runtime = new DryRunRuntime(port, (line) => printed.push(line));
    expect(isWould(await runtime.tag('a', 'b'))).to.equal(true);
    expect(isWould(await runtime.removeImage('a'))).to.equal(true);
    expect(isWould(await runtime.push('a', 'reg/a', { tlsVerify: true }))).to.equal(true);
    expect(isWould(await runtime.pull('reg/a', { policyFile: '/run/kvc/p.json', tlsVerify: true }))).to.equal(true);
    expect(isWould(await runtime.runModuleCommand('img', ['modprobe', '--all', '--', 'usbip-core'], 'loading'))).to.equal(true);
    expect(await runtime.runTool('img', ['usbip', 'version'], false)).to.equal(0);
    expect(await runtime.execTool('kvc-usbip-tools', ['usbip', 'list', '-l'], false)).to.equal(0);
    expect(await runtime.captureExec('kvc-usbip-tools', ['usbip', 'port'])).to.deep.equal({ exitCode: 0, stdout: '', stderr: '' });
    expect(await runtime.runHook('img', ['/usr/lib/kvc/pre-unload'])).to.deep.equal({ exitCode: 0, stdout: '', stderr: '' });
    expect(isWould(await runtime.startToolsHolder('img', 'kvc-usbip-tools', 'usbip'))).to.equal(true);
    expect(isWould(await runtime.removeContainer('kvc-usbip-tools'))).to.equal(true);
    expect(await runtime.runDaemon({ image: 'img', containerName: 'kvc-usbip-usbipd', instance: 'usbip', role: 'usbipd', command: ['usbipd'], writable: [] }, () => undefined, new AbortController().signal).exited).to.equal(0);
    expect(calls).to.deep.equal([]);
    expect(printed).to.have.length(12);
    expect(printed.every((line) => line.startsWith('podman --events-backend=none '))).to.equal(true);
    expect(printed[4]).to.match(/ img modprobe --all -- usbip-core$/);
  });

  it('queries go to the real adapter and return its answers', async () => {
    const { port, calls } = recordingPort();
    const printed = [];
    const runtime = new DryRunRuntime(port, (line) => printed.push(line));
    expect((await runtime.inspectImage('localhost/usbip-1.0.0:6.1.0-56-amd64')).id).to.equal('abc');
    expect(await runtime.inspectImages(['x'])).to.have.length(1);
    expect(await runtime.imagesWithLabel('io.kvc.instance', 'usbip')).to.have.length(1);
    expect((await runtime.probe('img', ['modinfo', 'usbip-core'])).stdout).to.equal('probed');
    expect((await runtime.describe()).version).to.equal('5.4.2');
    expect((await runtime.inspectContainer('kvc-usbip-tools')).pid).to.equal(42);
    expect(runtime.toolRunPrefix('img')).to.deep.equal(['run', '--rm']);
    expect(calls.map((call) => call[0])).to.deep.equal(['inspectImage', 'inspectImages', 'imagesWithLabel', 'probe', 'describe', 'inspectContainer', 'toolRunPrefix']);
    expect(printed).to.deep.equal([]);
    expect(runtime.name).to.equal('podman');
  });

  it('docker: a push prints the tag it needs first; what docker cannot do is refused in a dry run too', async () => {
    const { port } = recordingPort('docker');
    const printed = [];
    const runtime = new DryRunRuntime(port, (line) => printed.push(line));
    await runtime.push('a', 'reg/a', { tlsVerify: true });
    expect(printed).to.deep.equal(['docker tag a reg/a', commandLine('docker', args.pushArgs('docker', 'a', 'reg/a', { tlsVerify: true }))]);
    expect(await runtime.push('a', 'reg/a', { tlsVerify: false }).catch((error) => error.message)).to.match(/--tls-verify=false works with podman only/);
    expect(await runtime.pull('reg/a', { policyFile: 'p', tlsVerify: true }).catch((error) => error.message)).to.match(/verified pulls work with podman only/);
  });
});
