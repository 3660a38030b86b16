// The service holds its instance for its whole life (issue 25, item 12): a second `kvc service NAME`
// refuses, and `kvc unload`/`kvc reload` refuse while it runs. Real kvc processes and real flock(1);
// no container runtime is reached: the test holds the instance lock itself, so the first service
// stays waiting for it, alive, before it asks podman anything.
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectLines } from '../../integration/log-lines.js';
import { KVER, NODE, MAIN, makeConfigDir, removeDir } from '../../integration/harness.js';

const NAME = 'usbip';

describe('the service holds its instance for its life', function () {
  this.timeout(60000);
  let configDir;
  let root;
  let runDir;
  let holder;
  const children = [];
  const env = () => ({ ...process.env, KVC_HOST_ROOT: root, KVC_RUNNING_KERNEL: KVER, KVC_RUN_DIR: runDir, KVC_LOG_DIR: join(runDir, 'log'), PATH: '/usr/bin:/bin' });
  const kvc = (...args) => {
    const child = spawn(NODE, [MAIN, '--config-dir', configDir, ...args], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] });
    const log = collectLines(child.stderr);
    const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
    children.push(child);
    return { child, log, exited };
  };

  beforeEach(async () => {
    configDir = makeConfigDir('');
    root = mkdtempSync(join(tmpdir(), 'kvc-host-'));
    runDir = mkdtempSync(join(tmpdir(), 'kvc-run-'));
    mkdirSync(join(root, 'sys/module'), { recursive: true });
    mkdirSync(join(root, 'proc'), { recursive: true });
    writeFileSync(join(root, 'proc/modules'), '');
    // The test holds the instance lock (as a `kvc build` would), so the service waits, alive.
    holder = spawn('flock', ['--exclusive', join(runDir, `${NAME}.lock`), 'sleep', '120'], { stdio: 'ignore' });
    children.push(holder);
    for (let i = 0; i < 100 && spawnSync('flock', ['--nonblock', join(runDir, `${NAME}.lock`), 'true']).status === 0; i += 1) await new Promise((r) => setTimeout(r, 20));
  });
  afterEach(() => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    children.length = 0;
    removeDir(configDir);
    removeDir(root);
    removeDir(runDir);
  });

  it('a second `kvc service` refuses within seconds (75) naming the first; `kvc unload` and `kvc reload` refuse while it runs', async () => {
    const first = kvc('service', NAME);
    await first.log.waitFor(/waiting for .* to finish with usbip/, 30000);

    const second = kvc('service', NAME);
    const secondCode = await Promise.race([second.exited, new Promise((r) => setTimeout(() => r('still running after 15 s'), 15000))]);
    expect(secondCode, second.log.lines.map((l) => l.text).join('\n')).to.equal(75);
    expect(second.log.count(new RegExp(`the service of usbip already runs: process ${first.child.pid} \\(\`kvc service usbip\`\\)`))).to.equal(1);
    expect(second.log.count(/waiting for/), 'it did not queue up behind the first').to.equal(0);

    for (const command of ['unload', 'reload']) {
      const other = kvc(command, NAME, KVER, '--no-wait');
      const code = await other.exited;
      const text = other.log.lines.map((l) => l.text).join('\n');
      expect(code, text).to.equal(75);
      expect(text).to.match(new RegExp(`kvc ${command} would change usbip's modules under its service: process ${first.child.pid} \\(\`kvc service usbip\`\\)`));
      expect(text).to.match(/systemctl (stop|restart) kvc@usbip/);
    }

    // Stopped, it lets go: a service starts again.
    first.child.kill('SIGTERM');
    expect(await first.exited).to.equal(0);
    const third = kvc('service', NAME);
    await third.log.waitFor(/waiting for .* to finish with usbip/, 30000);
    third.child.kill('SIGTERM');
    expect(await third.exited).to.equal(0);
  });
});
