// Exit statuses: one table (ExitStatus and EXIT_STATUS_MEANINGS in src/errors.ts, docs/exit-codes.md's
// "Exit statuses" table, `kvc help exit-status`), and each status produced by the real kvc CLI on
// the real podman where this machine can produce it. 75 (busy) is produced in the lock tests and
// 130 (interrupted) in interrupt.test.js; a failed
// systemd job (70) needs a real systemd, so its mapping is checked here on the error class.
import { expect } from 'chai';
import { chmodSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT_STATUS_MEANINGS, ExitStatus, exitStatusOf } from '../../lib/errors.js';
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

  it('docs/exit-codes.md\'s table lists exactly the statuses the code uses, with the same meanings', () => {
    const readme = readFileSync(join(ROOT, 'docs/exit-codes.md'), 'utf8');
    const table = /^Exit statuses[^\n]*\n[^\n]*\n\n\| status \| meaning \|\n\|---\|---\|\n((?:\|[^\n]*\n)+)/m.exec(readme)?.[1] ?? '';
    const rows = [...table.matchAll(/^\| (\d+) \| (.*) \|$/gm)].map((match) => [Number(match[1]), match[2].replace(/\\\|/g, '|')]);
    const code = Object.keys(ExitStatus).map((key) => [ExitStatus[key], EXIT_STATUS_MEANINGS[key]]);
    expect(rows).to.deep.equal(code);
  });

  it('kvc help exit-status prints the same table', () => {
    const result = kvc(['help', 'exit-status']);
    expect(result.status, result.stderr).to.equal(0);
    for (const key of Object.keys(ExitStatus)) expect(result.stdout).to.match(new RegExp(`^ *${ExitStatus[key]}  ${EXIT_STATUS_MEANINGS[key].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
  });

  const cases = [
    [ExitStatus.ok, 'kvc status', () => ['status']],
    [ExitStatus.ok, 'kvc help', () => ['help']],
    [ExitStatus.ok, 'kvc help kube module', () => ['help', 'kube', 'module']],
    [ExitStatus.usage, 'bare kvc (usage on stderr)', () => [], /^Usage: kvc /, undefined, undefined, { bare: true }],
    [ExitStatus.usage, 'kvc help of an unknown command (did-you-mean)', () => ['help', 'stauts'], /unknown command 'stauts' \(did you mean status\?\)/],
    [ExitStatus.usage, 'an unknown command (did-you-mean)', () => ['buidl'], /^kvc: unknown command 'buidl' \(did you mean build\?\); see kvc --help\n$/],
    [ExitStatus.usage, 'an unknown subcommand (did-you-mean)', () => ['kube', 'modul'], /unknown command 'modul' \(did you mean module\?\)/],
    [ExitStatus.usage, 'a command with subcommands but none given', () => ['kube'], /^Usage: kvc kube /],
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
  for (const [status, what, args, pattern, env, setup, options = {}] of cases) {
    it(`${status}: ${what}`, () => {
      let dir = configDir;
      if (setup !== undefined) {
        dir = makeConfigDir();
        setup(dir);
      }
      const result = kvc(args(), { configDir: options.bare === true ? undefined : options.configDir ?? dir, env: (typeof env === 'function' ? env() : env) ?? {}, timeout: 240000 });
      if (dir !== configDir) removeDir(dir);
      expect(result.status, result.stderr).to.equal(status);
      if (pattern !== undefined) expect(result.stderr).to.match(pattern);
    });
  }

  it('70: a systemd job that did not end "done" (JobFailedError; needs a real systemd, see the e2e test)', () => {
    expect(exitStatusOf(new JobFailedError('starting kvc@usbip.service ended with result "failed"'))).to.equal(ExitStatus.software);
  });
});
