// Unit tests (issue 21): where a header-less build takes a kernel's source, config and CRCs from
// (kernel/abi/kernel-inputs.ts), on data: the search order before --kernel-config, the user's
// source and config, each missing or wrong input a typed error with its remedy, and a config with
// one ABI-relevant option flipped refused, the option named.
import { expect } from 'chai';
import { KernelInputError, configDifferences, configKernelVersion, planKernelInputs } from '../../../lib/kernel/abi/kernel-inputs.js';
import { parseKernelConfig } from '../../../lib/kernel/kernel-config.js';

const CONFIG = '# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.1.158 Kernel Configuration\nCONFIG_CC_VERSION_TEXT="gcc-12 (Debian 12.2.0-14) 12.2.0"\nCONFIG_MODULES=y\nCONFIG_MODVERSIONS=y\nCONFIG_PREEMPT_VOLUNTARY=y\n# CONFIG_PREEMPT is not set\nCONFIG_USB=m\n';
const options = parseKernelConfig(CONFIG);
const base = { kver: '6.1.0-56-amd64', modulesDir: '/lib/modules/6.1.0-56-amd64', moduleCount: 0 };
const boot = { candidate: { path: '/boot/config-6.1.0-56-amd64', why: 'installed with kernel 6.1.0-56-amd64' }, options };

// The typed error planKernelInputs throws for these facts.
function refusal(facts) {
  try {
    planKernelInputs(facts);
  } catch (error) {
    expect(error).to.be.instanceOf(KernelInputError);
    return error;
  }
  throw new Error('planKernelInputs accepted the facts');
}

describe('kernel inputs of a header-less build (--kernel-source, --kernel-config)', () => {
  it('nothing named: the distribution source package, the config and CRCs of its image package', () => {
    expect(planKernelInputs(base)).to.deep.equal({ source: { kind: 'package', name: 'linux-source-6.1' }, config: undefined, crcs: { kind: 'package' } });
  });

  it('a tarball or a folder named: the user source; the config of the search order; CRCs from the installed modules', () => {
    const tarball = planKernelInputs({ ...base, userSource: { path: '/src/linux-6.1.158.tar.xz', kind: 'file' }, foundConfig: boot, moduleCount: 4023 });
    expect(tarball).to.deep.equal({
      source: { kind: 'tarball', path: '/src/linux-6.1.158.tar.xz' },
      config: boot.candidate,
      crcs: { kind: 'modules', dir: '/lib/modules/6.1.0-56-amd64', count: 4023 },
    });
    expect(planKernelInputs({ ...base, userSource: { path: '/src/linux', kind: 'dir' }, foundConfig: boot, moduleCount: 1 }).source).to.deep.equal({ kind: 'dir', path: '/src/linux' });
  });

  it('the config search order comes first: --kernel-config is used only when the host has none', () => {
    const userConfig = { path: '/home/u/config', kind: 'file' };
    const named = planKernelInputs({ ...base, userSource: { path: '/s.tar.xz', kind: 'file' }, userConfig, userConfigOptions: options, moduleCount: 3 });
    expect(named.config).to.deep.equal({ path: '/home/u/config', why: 'named with --kernel-config' });
    // The host's own, when it has one and the user's file agrees with it.
    const both = planKernelInputs({ ...base, userSource: { path: '/s.tar.xz', kind: 'file' }, userConfig, userConfigOptions: options, foundConfig: boot, moduleCount: 3 });
    expect(both.config).to.deep.equal(boot.candidate);
  });

  it('the Module.symvers of the kernel, when there is one, before the modules', () => {
    const plan = planKernelInputs({ ...base, userSource: { path: '/s', kind: 'dir' }, foundConfig: boot, symvers: '/lib/modules/K/build/Module.symvers', moduleCount: 9 });
    expect(plan.crcs).to.deep.equal({ kind: 'symvers', path: '/lib/modules/K/build/Module.symvers' });
  });

  it('a config with one ABI-relevant option flipped is refused, the option named, with the remedy', () => {
    const flipped = parseKernelConfig(CONFIG.replace('# CONFIG_PREEMPT is not set', 'CONFIG_PREEMPT=y'));
    const error = refusal({ ...base, userSource: { path: '/s', kind: 'dir' }, userConfig: { path: '/tmp/flipped', kind: 'file' }, userConfigOptions: flipped, foundConfig: boot, moduleCount: 3 });
    expect(error.input).to.equal('config');
    expect(error.message).to.equal('--kernel-config /tmp/flipped is not the config of kernel 6.1.0-56-amd64: it differs from /boot/config-6.1.0-56-amd64 (installed with kernel 6.1.0-56-amd64) in CONFIG_PREEMPT: n ≠ y; modules built with it would not match the kernel');
    expect(error.remedy).to.contain('leave --kernel-config out');
  });

  it('toolchain options may differ (another compiler describes itself otherwise)', () => {
    const other = parseKernelConfig(CONFIG.replace('gcc-12 (Debian 12.2.0-14) 12.2.0', 'gcc-13'));
    expect(configDifferences(options, other)).to.deep.equal([]);
    expect(configDifferences(options, parseKernelConfig(CONFIG.replace('CONFIG_MODVERSIONS=y\n', '')))).to.deep.equal(['CONFIG_MODVERSIONS: y ≠ n']);
  });

  it('each missing input is a typed error with its remedy', () => {
    const source = refusal({ ...base, userSource: { path: '/nowhere.tar.xz', kind: 'missing' } });
    expect([source.input, source.message]).to.deep.equal(['source', '--kernel-source /nowhere.tar.xz: no such file or folder']);
    expect(source.remedy).to.contain('source tarball');
    const config = refusal({ ...base, userSource: { path: '/s', kind: 'dir' }, moduleCount: 3 });
    expect([config.input, config.message]).to.deep.equal(['config', 'no config of kernel 6.1.0-56-amd64: not in /proc/config.gz (when running), /boot/config-6.1.0-56-amd64 or /lib/modules/6.1.0-56-amd64/config']);
    expect(config.remedy).to.contain('--kernel-config FILE');
    const missingConfig = refusal({ ...base, userConfig: { path: '/no/config', kind: 'missing' } });
    expect([missingConfig.input, missingConfig.message]).to.deep.equal(['config', '--kernel-config /no/config: no such file']);
    const crcs = refusal({ ...base, userSource: { path: '/s', kind: 'dir' }, foundConfig: boot });
    expect([crcs.input, crcs.message]).to.deep.equal(['crcs', 'no symbol CRCs of kernel 6.1.0-56-amd64: no Module.symvers and no modules in /lib/modules/6.1.0-56-amd64']);
    expect(crcs.remedy).to.contain('install the kernel\'s modules');
  });

  it('reads the upstream version a config is for', () => {
    expect(configKernelVersion(CONFIG)).to.equal('6.1.158');
    expect(configKernelVersion('# Linux/arm64 6.6.87-rc1 Kernel Configuration\n')).to.equal('6.6.87');
    expect(configKernelVersion('CONFIG_X=y\n')).to.equal(undefined);
  });
});
