// Exit statuses: one table (ExitStatus in src/errors.ts, the README's "Exit statuses" paragraph),
// and each status produced by the real kvc CLI on the real podman where this machine can produce
// it. 75 (busy) is produced in the lock tests and 130 (interrupted) in interrupt.test.js; a failed
// systemd job (70) needs a real systemd, so its mapping is checked here on the error class.
import { expect } from 'chai';
import { chmodSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExitStatus, exitStatusOf } from '../../lib/errors.js';
import { JobFailedError } from '../../lib/bus/systemd.js';
import { KVER, ROOT, kvc, makeConfigDir, podman, removeDir } from './harness.js';

const fakePodman = (script) => {
  const bin = mkdtempSync(join(tmpdir(), 'kvc-exit-bin-'));
  writeFileSync(join(bin, 'podman'), script);
  chmodSync(join(bin, 'podman'), 0o755);
  return `${bin}:/usr/bin:/bin`;
};

describe('exit statuses: one table, each produced', function () {
  this.timeout(300000);
  let configDir;
  before(() => {
    configDir = makeConfigDir();
    cpSync(join(ROOT, 'test/fixtures/nomod-instance'), configDir, { recursive: true });
    chmodSync(join(configDir, 'nomod'), 0o755);
  });
  after(() => {
    removeDir(configDir);
    try { podman(['rmi', '--force', `localhost/nomod-1.0.0:${KVER}`], { stdio: 'ignore' }); } catch { /* not built */ }
  });

  it('the README lists exactly the statuses the code uses', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const paragraph = /^Exit statuses: ([\s\S]+?)\n\n/m.exec(readme)?.[1] ?? '';
    const listed = [...paragraph.matchAll(/(?:^|, )(\d+) /g)].map((match) => Number(match[1])).sort((a, b) => a - b);
    expect(listed).to.deep.equal(Object.values(ExitStatus).sort((a, b) => a - b));
  });

  const cases = [
    [ExitStatus.ok, 'kvc status', () => ['status']],
    [ExitStatus.usage, 'an unknown instance', () => ['build', 'nosuch', KVER]],
    [ExitStatus.usage, 'an unknown option', () => ['build', 'usbip', KVER, '--no-such-option']],
    [ExitStatus.dataErr, 'a built image without its module', () => ['build', 'nomod', KVER], /the image built for .* is not usable/],
    [ExitStatus.noInput, 'the wrapper for a kernel without an image', () => ['wrapper', 'usbip', '9.9.9-no-image', 'usbip', 'version'], /there is no image .*9\.9\.9-no-image.*kvc build usbip 9\.9\.9-no-image/],
    [ExitStatus.unavailable, 'no runtime on PATH', () => ['build', 'usbip', KVER], /podman is not on PATH/, { PATH: mkdtempSync(join(tmpdir(), 'kvc-empty-')) }],
    [ExitStatus.software, 'a runtime command failing', () => ['build', 'usbip', KVER], /podman exit 125/, { PATH: fakePodman('#!/bin/sh\necho "Error: broken" >&2\nexit 125\n') }],
    [ExitStatus.noInput, 'a configuration folder that does not exist', () => ['--config-dir', '/nonexistent-kvc-config', 'status'], /the configuration folder \/nonexistent-kvc-config \(--config-dir\) does not exist/],
    [ExitStatus.refused, 'this machine\'s kernel, which has no module support', () => ['build', 'usbip', release()], /cannot take usbip's modules: it has no loadable module support/],
    [ExitStatus.usage, 'loading for a kernel that is not running', () => ['load', 'usbip', '9.9.9-not-running'], /cannot load modules for 9\.9\.9-not-running: the running kernel is/],
    [ExitStatus.config, 'a misspelled key, with the right one named', () => ['build', 'usbip', KVER], /usbip\.conf:\d+: KVC_BUILD_ARG: is not a kvc setting; did you mean KVC_BUILD_ARGS\?; rename it to KVC_BUILD_ARGS/, undefined, (dir) => writeFileSync(join(dir, 'usbip.conf'), `${readFileSync(join(dir, 'usbip.conf'), 'utf8')}KVC_BUILD_ARG="A=1"\n`)],
    [ExitStatus.refused, 'build with no kernel given: the running one (uname -r), which takes no modules here', () => ['build', 'usbip'], new RegExp(`kernel ${release().replace(/[.+]/g, '\\$&')} cannot take usbip's modules`)],
    [ExitStatus.config, 'a bad configuration value', () => ['build', 'usbip', KVER], /KVC_KEEP_KERNELS/, undefined, (dir) => writeFileSync(join(dir, 'kvc.conf'), 'KVC_KEEP_KERNELS=many\n')],
  ];
  for (const [status, what, args, pattern, env, setup] of cases) {
    it(`${status}: ${what}`, () => {
      let dir = configDir;
      if (setup !== undefined) {
        dir = makeConfigDir();
        setup(dir);
      }
      const result = kvc(args(), { configDir: dir, env: env ?? {}, timeout: 240000 });
      if (dir !== configDir) removeDir(dir);
      expect(result.status, result.stderr).to.equal(status);
      if (pattern !== undefined) expect(result.stderr).to.match(pattern);
    });
  }

  it('70: a systemd job that did not end "done" (JobFailedError; needs a real systemd, see the e2e test)', () => {
    expect(exitStatusOf(new JobFailedError('starting kvc@usbip.service ended with result "failed"'))).to.equal(ExitStatus.software);
  });
});
