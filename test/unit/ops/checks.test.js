// Unit tests: kvc check's verdicts on facts (pure, on data), and every error of a file at once.
import { expect } from 'chai';
import { checkExit, evaluateChecks, formatChecks } from '../../../lib/ops/checks.js';
import { confTextErrors } from '../../../lib/config/conf-file.js';
import { describeError } from '../../../lib/errors.js';

const healthy = {
  runtime: { name: 'podman', version: '4.3.1', storage: '/var/lib/containers/storage' },
  storage: { path: '/var/lib/containers/storage', writable: true, freeBytes: 80e9 },
  configErrors: [], instances: ['usbip'],
  devices: [{ instance: 'usbip', path: '/etc/kvc/usbip.devices', present: true }],
  unattended: [],
  kernel: { kver: '6.1.0-56-amd64', running: true, moduleSupport: true, modulesDisabled: '0\n', secureBoot: false, lockdown: '[none] integrity confidentiality', configSource: '/boot/config-6.1.0-56-amd64', headers: false, builtIn: [] },
};
const levels = (facts) => Object.fromEntries(evaluateChecks(facts).map((r) => [r.topic, r.level]));
const failing = (facts) => evaluateChecks(facts).filter((r) => r.level === 'fail');

describe('kvc check: verdicts on facts', () => {
  it('a healthy host: all ok, exit 0', () => {
    const results = evaluateChecks(healthy);
    expect(results.filter((r) => r.level !== 'ok')).to.deep.equal([]);
    expect(checkExit(results)).to.equal(0);
    expect(formatChecks(results)).to.match(/^ok {4}runtime: podman 4\.3\.1 answers$/m);
  });
  it('no runtime: fail with what to install, exit 69', () => {
    const results = evaluateChecks({ ...healthy, runtime: { name: 'podman', error: 'podman is not on PATH' }, storage: undefined });
    expect(results[0]).to.include({ level: 'fail', topic: 'runtime' });
    expect(results[0].todo).to.include('install podman');
    expect(checkExit(results)).to.equal(69);
  });
  it('AppArmor: on with its parser is ok (kvc\'s own profile); on without it a warning naming the package and what the runtime then does; off says nothing', () => {
    const on = evaluateChecks({ ...healthy, appArmor: { enabled: true, parser: '/usr/sbin/apparmor_parser' } }).find((r) => r.topic === 'apparmor');
    expect(on).to.include({ level: 'ok' });
    expect(on.what).to.include('profile kvc-<name>');
    const noParser = evaluateChecks({ ...healthy, appArmor: { enabled: true, parser: undefined } }).find((r) => r.topic === 'apparmor');
    expect(noParser).to.include({ level: 'warn', todo: 'install apparmor (Debian, Ubuntu: apt install apparmor)' });
    expect(noParser.what).to.include('podman then runs them with no AppArmor profile');
    expect(evaluateChecks({ ...healthy, runtime: { name: 'docker', version: '20.10' }, appArmor: { enabled: true, parser: undefined } }).find((r) => r.topic === 'apparmor').what).to.include('docker then starts none');
    expect(checkExit(evaluateChecks({ ...healthy, appArmor: { enabled: true, parser: undefined } }))).to.equal(0);
    expect(evaluateChecks({ ...healthy, appArmor: { enabled: false, parser: '/usr/sbin/apparmor_parser' } }).some((r) => r.topic === 'apparmor')).to.equal(false);
  });
  it('storage: not writable fails; under 2 GB free fails, under 5 GB warns', () => {
    expect(levels({ ...healthy, storage: { ...healthy.storage, writable: false } }).storage).to.equal('fail');
    expect(levels({ ...healthy, storage: { ...healthy.storage, freeBytes: 1.5e9 } }).disk).to.equal('fail');
    expect(levels({ ...healthy, storage: { ...healthy.storage, freeBytes: 3e9 } }).disk).to.equal('warn');
  });
  it('every configuration error is its own line; config and devices failures exit 78', () => {
    const results = evaluateChecks({ ...healthy, configErrors: ['a.conf: line 2 …', 'a.conf: line 5 …'], devices: [{ instance: 'usbip', path: '/etc/kvc/usbip.devices', present: true, problem: 'is writable by others (mode 666)' }] });
    expect(results.filter((r) => r.topic === 'config').map((r) => r.what)).to.deep.equal(['a.conf: line 2 …', 'a.conf: line 5 …']);
    expect(results.find((r) => r.topic === 'devices')).to.include({ level: 'fail', what: '/etc/kvc/usbip.devices: is writable by others (mode 666)' });
    expect(checkExit(results)).to.equal(78);
  });
  it('a kernel without module support or with modules disabled fails, exit 77; one refusing unsigned modules is a warning (kvc signs)', () => {
    expect(failing({ ...healthy, kernel: { ...healthy.kernel, moduleSupport: false, configRefusal: 'it has no loadable module support (CONFIG_MODULES is not set in /proc/config.gz)' } })).to.have.length(1);
    expect(failing({ ...healthy, kernel: { ...healthy.kernel, modulesDisabled: '1\n' } })[0].what).to.include('modules_disabled=1');
    const signed = evaluateChecks({ ...healthy, kernel: { ...healthy.kernel, unsignedRefused: 'the kernel is locked down (lockdown=integrity), which refuses unsigned modules', secureBoot: true } });
    expect(signed.find((r) => r.topic === 'kernel')).to.include({ level: 'warn' });
    expect(signed.find((r) => r.topic === 'kernel').todo).to.include('kvc key status');
    expect(checkExit(signed)).to.equal(0);
    expect(checkExit(evaluateChecks({ ...healthy, kernel: { ...healthy.kernel, configRefusal: 'CONFIG_USB is not set in /boot/config-x' } }))).to.equal(77);
  });
  it('where the kernel refuses unsigned modules, the signing key: trusted ok, not trusted a failure (77) with kvc key status\'s next step, none yet a warning', () => {
    const locked = { ...healthy.kernel, unsignedRefused: 'the kernel is locked down (lockdown=integrity), which refuses unsigned modules', secureBoot: true };
    const key = 'CN=kvc module signing key (vm) (key id 6db5c6)';
    const next = 'the key is not enrolled: run kvc key enroll, reboot, and confirm it in MokManager';
    const trusted = evaluateChecks({ ...healthy, kernel: { ...locked, signing: { key, trusted: 'yes', next } } });
    expect(trusted.find((r) => r.topic === 'signing key')).to.include({ level: 'ok' });
    expect(checkExit(trusted)).to.equal(0);
    const untrusted = evaluateChecks({ ...healthy, kernel: { ...locked, signing: { key, trusted: 'no', next } } });
    expect(untrusted.find((r) => r.topic === 'signing key')).to.include({ level: 'fail', todo: next });
    expect(untrusted.find((r) => r.topic === 'signing key').what).to.include(key);
    expect(checkExit(untrusted)).to.equal(77);
    const none = evaluateChecks({ ...healthy, kernel: { ...locked, signing: { key: null, trusted: 'unknown', next } } });
    expect(none.find((r) => r.topic === 'signing key')).to.include({ level: 'warn' });
    expect(checkExit(none)).to.equal(0);
    // A kernel that takes unsigned modules says nothing of the key.
    expect(evaluateChecks({ ...healthy, kernel: { ...healthy.kernel, signing: { key, trusted: 'no', next } } }).some((r) => r.topic === 'signing key')).to.equal(false);
  });
  it('warns: no kernel config, modules built in, an unpinned source, no instances', () => {
    const { configSource: _c, ...noConfig } = healthy.kernel;
    expect(levels({ ...healthy, kernel: noConfig })['kernel config']).to.equal('warn');
    expect(levels({ ...healthy, kernel: { ...healthy.kernel, builtIn: ['usbip-core'] } })['built in']).to.equal('warn');
    expect(levels({ ...healthy, unattended: [{ instance: 'x', problem: 'not pinned' }] }).sources).to.equal('warn');
    expect(levels({ ...healthy, instances: [], devices: [] }).config).to.equal('warn');
    expect(checkExit(evaluateChecks({ ...healthy, kernel: noConfig }))).to.equal(0);
  });
  it('a configuration file\'s errors all at once, each with its line', () => {
    const errors = confTextErrors('/etc/kvc/usbip.conf', 'KMOD_NAMES="a b"\nthis is wrong\nKVC_BUILD_ARGS=$(id)\nKMOD_NAMES=c\n# fine\nX=1 2\n').map(describeError);
    expect(errors).to.have.length(4);
    expect(errors[0]).to.match(/^\/etc\/kvc\/usbip\.conf: line 2 is not KEY=value/);
    expect(errors[1]).to.match(/KVC_BUILD_ARGS: line 3 uses \$/);
    expect(errors[2]).to.match(/KMOD_NAMES: is set twice \(lines 1 and 4\)/);
    expect(errors[3]).to.match(/X: line 6 has more after the value/);
    for (const error of errors) expect(error).to.not.include('\n');
  });
});
