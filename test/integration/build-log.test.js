// Integration test: a build that fails shows, in its error, the step that failed and that step's
// last lines (the compiler's own error), and where its whole log is kept; `kvc status` names that
// log. The real kvc CLI and the real podman; the instance is a test fixture whose compile step fails.
import { expect } from 'chai';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, LOG_DIR, ROOT, kvc, makeConfigDir, removeDir } from './harness.js';

describe('integration: a failed build says why and keeps its log', function () {
  this.timeout(10 * 60 * 1000);
  let configDir;

  before(() => {
    configDir = makeConfigDir();
    cpSync(join(ROOT, 'test/fixtures/broken-instance'), configDir, { recursive: true });
    chmodSync(join(configDir, 'broken'), 0o755);
    rmSync(join(LOG_DIR, 'broken'), { recursive: true, force: true });
  });
  after(() => removeDir(configDir));

  it('kvc build: exit 70, the failed step, its last lines with the compiler\'s error, and the log\'s path', () => {
    const result = kvc(['build', 'broken', KVER], { configDir, timeout: 5 * 60 * 1000 });
    expect(result.status, result.stderr).to.equal(70);
    expect(result.stderr).to.match(/building localhost\/broken-1\.0\.0:\S+ failed at STEP \d+\/\d+: RUN for i in/);
    expect(result.stderr).to.include("  | /build/usbip_common.c:740:17: error: 'struct sock' has no member named 'sk_use_task_frag'");
    expect(result.stderr).to.include('  |   CC [M]  /build/file40.o');
    expect(result.stderr).to.not.include('file20.o');
    const logs = readdirSync(join(LOG_DIR, 'broken'));
    expect(logs).to.have.length(1);
    const log = join(LOG_DIR, 'broken', logs[0]);
    expect(result.stderr).to.include(`the whole log is ${log}`);
    const text = readFileSync(log, 'utf8');
    expect(text).to.include('file1.o');
    expect(text).to.include('sk_use_task_frag');
  });

  it('kvc status names the failed build\'s log for the kernel that has no image', () => {
    const [log] = readdirSync(join(LOG_DIR, 'broken'));
    // A made-up host root whose kernel can load modules (this machine's cannot: it would be refused).
    const host = mkdtempSync(join(tmpdir(), 'kvc-host-'));
    mkdirSync(join(host, 'proc'));
    writeFileSync(join(host, 'proc/modules'), '');
    mkdirSync(join(host, 'lib/modules', KVER), { recursive: true });
    writeFileSync(join(host, 'lib/modules', KVER, 'modules.dep'), '');
    const result = kvc(['status', 'broken'], { configDir, env: { KVC_RUNNING_KERNEL: KVER, KVC_HOST_ROOT: host } });
    removeDir(host);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.include(`kernel ${KVER} (running, next boot): no image; log: ${join(LOG_DIR, 'broken', log)}`);
  });
});
