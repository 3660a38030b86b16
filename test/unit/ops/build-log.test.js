// Unit tests: build logs (real files) and the error a failed build shows.
import { expect } from 'chai';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BuildLog, KEPT_LOGS, latestLog } from '../../../lib/ops/build-log.js';
import { BuildFailedError, describeError } from '../../../lib/errors.js';

describe('build logs', () => {
  let dir;
  beforeEach(() => { dir = join(mkdtempSync(join(tmpdir(), 'kvc-logs-')), 'usbip'); });
  afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

  it('keeps every line, and the failed step with its last lines', () => {
    const log = new BuildLog(dir, '6.1.0-50-amd64');
    log.write('[1/2] STEP 1/9: FROM debian AS builder');
    log.write('noise');
    log.write('[1/2] STEP 6/9: RUN make -C /lib/modules/6.1.0-50-amd64/build M=/build modules');
    for (let i = 0; i < 30; i += 1) log.write(`  CC  file${i}.o`);
    log.write("usbip_common.c:740:17: error: 'struct sock' has no member named 'sk_use_task_frag'");
    log.write('Error: building at STEP "RUN make …": while running runtime: exit status 2');
    log.close();
    const { step, lines } = log.failedStep();
    expect(step).to.equal('STEP 6/9: RUN make -C /lib/modules/6.1.0-50-amd64/build M=/build modules');
    expect(lines).to.have.length(15);
    expect(lines.at(-1)).to.match(/sk_use_task_frag/);
    expect(readFileSync(log.path, 'utf8').split('\n')).to.have.length(36);
    expect(statSync(log.path).mode & 0o777).to.equal(0o640);
    expect(latestLog(dir, '6.1.0-50-amd64')).to.equal(log.path);
  });

  it('stages built side by side (a real podman log): the step podman\'s error names, with the compiler\'s lines, not the step printed last', () => {
    const log = new BuildLog(dir, '6.12.117+deb12-cloud-amd64');
    for (const line of readFileSync(new URL('../../fixtures/build-log-parallel-stages.txt', import.meta.url), 'utf8').split('\n')) log.write(line);
    log.close();
    const { step, lines } = log.failedStep();
    expect(step).to.match(/^STEP 5\/5: RUN set -e;/);
    expect(lines.join('\n')).to.include("error: 'CONFIG_USB_DEFAULT_AUTHORIZATION_MODE' undeclared");
    expect(lines.some((line) => line.startsWith('--> '))).to.equal(false);
  });

  it(`keeps the last ${KEPT_LOGS} logs of each kernel`, () => {
    const paths = [];
    for (let i = 0; i < 5; i += 1) {
      const log = new BuildLog(dir, '6.1.0-50-amd64', new Date(Date.UTC(2026, 10, 24, 10, i)));
      log.close();
      paths.push(log.path);
    }
    new BuildLog(dir, '6.12.117+deb12-amd64').close();
    const left = readdirSync(dir).sort();
    expect(left.filter((file) => file.startsWith('6.1.0-50-'))).to.deep.equal(paths.slice(2).map((path) => path.split('/').pop()));
    expect(left.filter((file) => file.startsWith('6.12.'))).to.have.length(1);
  });

  it('the error of a failed build shows the step, its last lines and the log, each on its own line', () => {
    const error = new BuildFailedError('building x failed at STEP 6/9: RUN make', ['a', 'b'], '/var/log/kvc/usbip/k.log', { hint: 'the whole log is /var/log/kvc/usbip/k.log' });
    expect(describeError(error)).to.equal('building x failed at STEP 6/9: RUN make; its last lines:\n  | a\n  | b\nthe whole log is /var/log/kvc/usbip/k.log');
    expect(error.exitStatus).to.equal(70);
  });
});
