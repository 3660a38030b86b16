// Unit tests: a second device payload (test/fixtures/payloads/nulldev.js, test-only) works through
// the core with no change outside its own file and this test's program (the map below is this
// test's src/cli/payloads.ts). Real settings files and the real status code; the runtime is a fake
// (no images), as in status-model.test.js.
import { expect } from 'chai';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { loadInstanceSettings } from '../../../lib/config/load.js';
import { gatherStatus, statusExit } from '../../../lib/ops/status.js';
import { formatStatus } from '../../../lib/ops/status-text.js';
import { deviceManagerNames } from '../../../lib/ops/context.js';
import { createLogger } from '../../../lib/log/logger.js';
import { nulldevManager } from '../../fixtures/payloads/nulldev.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
// This test's program: one payload, not USB/IP.
const PROGRAM = new Map([['nulldev', nulldevManager]]);

describe('a second device payload, registered only in the test\'s own program', () => {
  let root, ctx;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'kvc-payload-'));
    const configDir = join(root, 'etc/kvc');
    mkdirSync(configDir, { recursive: true });
    cpSync(join(ROOT, 'test/fixtures/hello-instance/hello.conf'), join(configDir, 'hello.conf'));
    cpSync(join(ROOT, 'test/fixtures/hello-instance/hello'), join(configDir, 'hello'), { recursive: true });
    writeFileSync(join(configDir, 'hello.conf'), 'KVC_DEVICE_MANAGER=nulldev\n', { flag: 'a' });
    mkdirSync(join(root, 'proc'));
    writeFileSync(join(root, 'proc/modules'), '');
    ctx = {
      configDir, logger: createLogger({ style: 'plain', stream: new PassThrough() }), hostRoot: root, runDir: join(root, 'run'),
      logDir: join(root, 'log'), runningKernel: '6.1.0-56-amd64', interactive: false, deviceManagers: PROGRAM,
      runtime: { name: 'podman', dryRun: false, imagesWithLabel: async () => [], probe: async () => ({ exitCode: 1, stdout: '', stderr: '' }) },
    };
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('KVC_DEVICE_MANAGER may name it in this program, and not in one without it', async () => {
    expect((await loadInstanceSettings(ctx.configDir, 'hello', deviceManagerNames(ctx))).deviceManager).to.equal('nulldev');
    const error = await loadInstanceSettings(ctx.configDir, 'hello', ['usbip']).then(() => undefined, (e) => e);
    expect(error?.message).to.include('"nulldev" is not a device manager kvc has');
  });

  it('kvc status carries its report and its text, and its configuration error is a problem', async () => {
    writeFileSync(join(ctx.configDir, 'hello.nulldev'), 'c 1:3\n');
    let report = await gatherStatus(ctx, 3, async () => null);
    const hello = report.instances.find((instance) => instance.name === 'hello');
    expect(hello.devices).to.deep.equal({ node: { major: 1, minor: 3 }, error: null });
    expect(formatStatus(report, PROGRAM)).to.include('  nulldev: c 1:3');
    writeFileSync(join(ctx.configDir, 'hello.nulldev'), 'b 7:0\n');
    report = await gatherStatus(ctx, 3, async () => null);
    expect(report.problems.map((entry) => entry.what).join('\n')).to.include('hello.nulldev: expected "c MAJOR:MINOR"');
    expect(statusExit(report)).to.not.equal(0);
  });
});
