// Unit tests: validating parsed files into typed settings (real temporary folders for the build context).
import { expect } from 'chai';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfText } from '../../../lib/config/conf-file.js';
import { instanceSettingsFrom, globalSettingsFrom } from '../../../lib/config/settings.js';
import { loadInstanceSettings, listInstanceNames, loadGlobalSettings } from '../../../lib/config/load.js';
import { ConfigError, UsageError } from '../../../lib/errors.js';

describe('settings: a misspelled key names the right one', () => {
  it('did you mean: the nearest known key, and none for a key far from every one', async () => {
    const { closest } = await import('../../../lib/config/did-you-mean.js');
    const { INSTANCE_KEYS, GLOBAL_KEYS } = await import('../../../lib/config/keys.js');
    expect(closest('KMOD_NAME', Object.keys(INSTANCE_KEYS))).to.equal('KMOD_NAMES');
    expect(closest('KVC_BUILD_ARG', Object.keys(INSTANCE_KEYS))).to.equal('KVC_BUILD_ARGS');
    expect(closest('KMOD_SOFWTARE_VERSION', Object.keys(INSTANCE_KEYS))).to.equal('KMOD_SOFTWARE_VERSION');
    expect(closest('kvc_keep_kernel', Object.keys(GLOBAL_KEYS))).to.equal('KVC_KEEP_KERNELS');
    expect(closest('KMOD_EXTRA', Object.keys(INSTANCE_KEYS))).to.equal(undefined);
    expect(closest('KVC_SOFTWARE_NAME', Object.keys(GLOBAL_KEYS))).to.equal(undefined);
    expect(closest('buidl', ['build', 'load', 'unload', 'status'])).to.equal('build');
  });
});

describe('settings: instance files', () => {
  let dir;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-settings-'));
    mkdirSync(join(dir, 'ctx'));
    writeFileSync(join(dir, 'ctx', 'Containerfile'), 'FROM scratch\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const good = {
    KMOD_CONTAINER_BUILD_CONTEXT: 'ctx',
    KMOD_CONTAINER_BUILD_FILE: 'Containerfile',
    KMOD_SOFTWARE_VERSION: '1.0.0',
    KMOD_NAMES: '"usbip-core usbip-host vhci-hcd"',
  };
  const text = (entries) => Object.entries(entries).filter(([, v]) => v !== undefined).map(([k, v]) => `${k}=${v}`).join('\n');
  const settings = (entries) => {
    const path = join(dir, 'usbip.conf');
    return instanceSettingsFrom('usbip', { path, entries: parseConfText(path, text(entries)) }, ['usbip']);
  };
  const failure = (entries) => {
    try {
      settings(entries);
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      return error;
    }
    throw new Error('expected a ConfigError');
  };

  it('resolves a relative context against the folder of the .conf file', () => {
    const result = settings(good);
    expect(result.context).to.deep.include({ kind: 'dir', path: join(dir, 'ctx'), file: join(dir, 'ctx', 'Containerfile') });
    expect(result.context.recipe).to.match(/^[0-9a-f]{16}$/);
    expect(result.modules).to.deep.equal(['usbip-core', 'usbip-host', 'vhci-hcd']);
    expect(result.softwareVersion).to.equal('1.0.0');
    expect(result.kernelRequires).to.deep.equal([]);
  });

  it('KVC_KERNEL_SOURCE / KVC_KERNEL_CONFIG: absolute paths, validated at the edge', () => {
    expect(settings(good).kernelInputs).to.deep.equal({ source: undefined, config: undefined });
    expect(settings({ ...good, KVC_KERNEL_SOURCE: '/usr/src/linux-6.6.87.tar.xz', KVC_KERNEL_CONFIG: '/usr/src/config-6.6.87' }).kernelInputs)
      .to.deep.equal({ source: '/usr/src/linux-6.6.87.tar.xz', config: '/usr/src/config-6.6.87' });
    for (const [key, value] of [['KVC_KERNEL_SOURCE', 'linux.tar.xz'], ['KVC_KERNEL_SOURCE', '/a,b'], ['KVC_KERNEL_CONFIG', '/a:b'], ['KVC_KERNEL_CONFIG', '/usr/../etc/shadow']]) {
      const error = failure({ ...good, [key]: value });
      expect(error.message).to.equal(`${join(dir, 'usbip.conf')}: ${key}: ${JSON.stringify(value)} is not an absolute path without ',', ':' or '..'`);
    }
  });

  it('KVC_TOOLS_SYSFS_WRITES: sysfs patterns, validated at the edge; unset means all of /sys', () => {
    expect(settings(good).toolsSysfsWrites).to.equal(undefined);
    expect(settings({ ...good, KVC_TOOLS_SYSFS_WRITES: '"/sys/bus/usb/drivers/*/bind  /sys/devices/**/usbip_sockfd"' }).toolsSysfsWrites)
      .to.deep.equal(['/sys/bus/usb/drivers/*/bind', '/sys/devices/**/usbip_sockfd']);
    const error = failure({ ...good, KVC_TOOLS_SYSFS_WRITES: '"/sys/bus/usb/drivers/*/bind /etc/shadow"' });
    expect(error.message).to.contain('KVC_TOOLS_SYSFS_WRITES: "/etc/shadow" is not a sysfs file pattern');
    expect(error.hint).to.contain('KVC_TOOLS_SYSFS_WRITES="/sys/bus/usb/drivers/*/bind');
  });

  it('accepts an https URL context and keeps the file relative to it', () => {
    const result = settings({ ...good, KMOD_CONTAINER_BUILD_CONTEXT: 'https://example.org/simple-kmod.git', KMOD_CONTAINER_BUILD_FILE: 'Dockerfile.fedora' });
    expect(result.context).to.deep.equal({ kind: 'url', url: 'https://example.org/simple-kmod.git', file: 'Dockerfile.fedora' });
  });

  for (const key of Object.keys(good)) {
    it(`names the file, the key and the fix when ${key} is missing or empty`, () => {
      const missing = failure({ ...good, [key]: undefined });
      expect(missing.message).to.equal(`${join(dir, 'usbip.conf')}: ${key}: is missing`);
      expect(missing.hint).to.match(new RegExp(`^add a line such as ${key}=`));
      const empty = failure({ ...good, [key]: '""' });
      expect(empty.message).to.equal(`${join(dir, 'usbip.conf')}: ${key}: is empty`);
    });
  }

  for (const bad of ['usbip;rm', 'a/b', '--privileged', 'x$y', 'usb.ip', 'é']) {
    it(`refuses KMOD_NAMES containing ${JSON.stringify(bad)}`, () => {
      const error = failure({ ...good, KMOD_NAMES: `"usbip-core ${bad}"` });
      expect(error.key).to.equal('KMOD_NAMES');
    });
  }

  it('refuses a module listed twice, counting - and _ as equal', () => {
    expect(failure({ ...good, KMOD_NAMES: '"usbip-core usbip_core"' }).message).to.match(/lists usbip_core twice/);
  });

  it('refuses a missing context folder and a missing build file, naming the path', () => {
    expect(failure({ ...good, KMOD_CONTAINER_BUILD_CONTEXT: 'nowhere' }).message).to.contain(`${join(dir, 'nowhere')} is not a directory`);
    const error = failure({ ...good, KMOD_CONTAINER_BUILD_FILE: 'Nope' });
    expect(error.key).to.equal('KMOD_CONTAINER_BUILD_FILE');
    expect(error.message).to.contain(`${join(dir, 'ctx', 'Nope')} does not exist`);
  });

  it('accepts git:// repositories with a #ref, as the bash KVC\'s instance files use', () => {
    const result = settings({ ...good, KMOD_CONTAINER_BUILD_CONTEXT: 'git://example.org/x.git#v1.2', KMOD_CONTAINER_BUILD_FILE: 'Dockerfile.rhel' });
    expect(result.context).to.deep.equal({ kind: 'url', url: 'git://example.org/x.git#v1.2', file: 'Dockerfile.rhel' });
  });

  for (const url of ['https://ghp_secret@github.com/a/b.git', 'https://user:pass@example.org/x.git', 'git://tok@example.org/x']) {
    it(`refuses credentials in ${url.replace(/\/\/[^@]*@/, '//…@')}, without printing them`, () => {
      const error = failure({ ...good, KMOD_CONTAINER_BUILD_CONTEXT: url });
      expect(error.message).to.match(/has credentials in its URL/);
      expect(`${error.message} ${error.hint}`).to.not.match(/secret|pass|tok@/);
    });
  }

  for (const url of ['http://example.org/x.git', 'file:///etc', 'ssh://example.org/x', 'docker-image://alpine', 'git@github.com:a/b.git']) {
    it(`refuses the build context ${url}`, () => {
      expect(failure({ ...good, KMOD_CONTAINER_BUILD_CONTEXT: url }).key).to.equal('KMOD_CONTAINER_BUILD_CONTEXT');
    });
  }

  it('refuses option-looking values', () => {
    expect(failure({ ...good, KMOD_CONTAINER_BUILD_CONTEXT: '--privileged' }).message).to.match(/must not start with "-"/);
    expect(failure({ ...good, KMOD_SOFTWARE_VERSION: '-v' }).key).to.equal('KMOD_SOFTWARE_VERSION');
  });

  it('validates KMOD_KERNEL_REQUIRES', () => {
    expect(settings({ ...good, KMOD_KERNEL_REQUIRES: '"CONFIG_USB CONFIG_USB_COMMON"' }).kernelRequires).to.deep.equal(['CONFIG_USB', 'CONFIG_USB_COMMON']);
    expect(failure({ ...good, KMOD_KERNEL_REQUIRES: 'USB' }).key).to.equal('KMOD_KERNEL_REQUIRES');
  });

  it('reads KVC_BUILD_ARGS as NAME=VALUE pairs (none when absent or empty; an empty value is a value)', () => {
    expect(settings(good).buildArgs).to.deep.equal({});
    expect(settings({ ...good, KVC_BUILD_ARGS: '""' }).buildArgs).to.deep.equal({});
    expect(settings({ ...good, KVC_BUILD_ARGS: '"USBIP_VHCI_NR_HCS=16  USBIP_VHCI_HC_PORTS=15 _X= B=a=b"' }).buildArgs)
      .to.deep.equal({ USBIP_VHCI_NR_HCS: '16', USBIP_VHCI_HC_PORTS: '15', _X: '', B: 'a=b' });
    // The conf's quoting rules give the value: single quotes and escapes work as for any key.
    expect(settings({ ...good, KVC_BUILD_ARGS: "'A=1 B=$x'" }).buildArgs).to.deep.equal({ A: '1', B: '$x' });
  });

  for (const [value, pattern] of [
    ['"=16"', /"=16" is not NAME=VALUE/],
    ['"1X=2"', /"1X=2" is not NAME=VALUE/],
    ['"A-B=2"', /"A-B=2" is not NAME=VALUE/],
    ['"NR_HCS"', /"NR_HCS" is not NAME=VALUE/],
    ['"KVER=6.1.0-56-amd64"', /sets KVER, which kvc passes itself/],
    ['"A=1 KMODVER=2"', /sets KMODVER, which kvc passes itself/],
    ['"A=1 B=2 A=3"', /sets A twice/],
  ]) {
    it(`refuses KVC_BUILD_ARGS=${value}, naming the key and the fix`, () => {
      const error = failure({ ...good, KVC_BUILD_ARGS: value });
      expect(error.key).to.equal('KVC_BUILD_ARGS');
      expect(error.message).to.match(pattern);
      expect(error.hint).to.be.a('string').and.not.equal('');
      expect(error.exitStatus).to.equal(78);
    });
  }

  it('refuses a reserved build arg with what to do instead', () => {
    expect(failure({ ...good, KVC_BUILD_ARGS: 'KVER=x' }).hint).to.match(/remove KVER from KVC_BUILD_ARGS/);
  });

  it('warns about unknown keys instead of failing', () => {
    const slip = failure({ ...good, KVC_BUILD_ARG: 'X=1' });
    expect(slip.message).to.equal(`${join(dir, 'usbip.conf')}:5: KVC_BUILD_ARG: is not a kvc setting; did you mean KVC_BUILD_ARGS?`);
    expect(slip.hint).to.equal('rename it to KVC_BUILD_ARGS');
    expect(settings({ ...good, KMOD_EXTRA: 'x' }).warnings).to.deep.equal([`${join(dir, 'usbip.conf')}:5: KMOD_EXTRA is not a kvc setting and is ignored`]);
  });

  it('loadInstanceSettings: an unknown instance is a usage error listing the configured ones', async () => {
    writeFileSync(join(dir, 'usbip.conf'), text(good));
    writeFileSync(join(dir, 'kvc.conf'), 'KVC_CONTAINER_RUNTIME=podman\n');
    expect(await listInstanceNames(dir)).to.deep.equal(['usbip']);
    const error = await loadInstanceSettings(dir, 'nvidia', ['usbip']).then(() => undefined, (e) => e);
    expect(error).to.be.instanceOf(UsageError);
    expect(error.message).to.equal(`unknown instance "nvidia": ${join(dir, 'nvidia.conf')} does not exist`);
    expect(error.hint).to.equal('configured instances: usbip');
    expect((await loadInstanceSettings(dir, 'usbip', ['usbip'])).modules).to.have.length(3);
  });

  it('loadInstanceSettings: refuses names that could escape the folder', async () => {
    for (const name of ['../etc/passwd', 'a b', '', '-x', 'USB']) {
      const error = await loadInstanceSettings(dir, name, ['usbip']).then(() => undefined, (e) => e);
      expect(error, name).to.be.instanceOf(UsageError);
    }
  });

  it('reads a conf that is a directory as a clear error', async () => {
    mkdirSync(join(dir, 'usbip.conf'));
    const error = await loadInstanceSettings(dir, 'usbip', ['usbip']).then(() => undefined, (e) => e);
    expect(error.message).to.equal(`${join(dir, 'usbip.conf')}: is a directory, not a configuration file`);
  });

  it('reads non-UTF-8 as a clear error', async () => {
    writeFileSync(join(dir, 'usbip.conf'), Buffer.from([0x4b, 0x3d, 0xff, 0xfe, 0x0a]));
    const error = await loadInstanceSettings(dir, 'usbip', ['usbip']).then(() => undefined, (e) => e);
    expect(error.message).to.equal(`${join(dir, 'usbip.conf')}: is not valid UTF-8 text`);
  });
});

describe('settings: global files', () => {
  const file = (path, text) => ({ path, entries: parseConfText(path, text) });

  it('defaults to podman, 3 kernels kept, the runtime\'s build network, no registry', () => {
    const registry = { repo: undefined, fallback: undefined, verifyKey: undefined, signatures: undefined, signKey: undefined, signPassphraseFile: undefined, signGnupgHome: undefined, tlsVerify: true };
    expect(globalSettingsFrom([])).to.deep.equal({ runtime: 'podman', keepKernels: 3, buildNetwork: undefined, retrySeconds: 60, buildOnKernelInstall: false, signingKey: undefined, registry, warnings: [] });
  });

  it('lets kvc.conf override the bash KVC\'s kmods-via-containers.conf', () => {
    const result = globalSettingsFrom([file('kmods-via-containers.conf', 'KVC_CONTAINER_RUNTIME=docker'), file('kvc.conf', 'KVC_CONTAINER_RUNTIME=podman\nKVC_BUILD_NETWORK=host')]);
    expect(result.runtime).to.equal('podman');
    expect(result.buildNetwork).to.equal('host');
  });

  it('refuses an unknown runtime, naming the file and key', () => {
    expect(() => globalSettingsFrom([file('/etc/kvc/kvc.conf', 'KVC_CONTAINER_RUNTIME=lxc')])).to.throw(ConfigError, '/etc/kvc/kvc.conf: KVC_CONTAINER_RUNTIME: must be podman or docker, not "lxc"');
  });

  it('reads both files from a folder when present', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kvc-global-'));
    writeFileSync(join(dir, 'kmods-via-containers.conf'), '# bash KVC\nKVC_CONTAINER_RUNTIME=docker\n');
    expect((await loadGlobalSettings(dir)).runtime).to.equal('docker');
    rmSync(dir, { recursive: true });
  });
});

describe('describeContext: remote or local, and how firmly pinned', () => {
  it('tells a local folder, a commit, a branch or tag, and no ref apart', async () => {
    const { describeContext } = await import('../../../lib/config/settings.js');
    expect(describeContext({ kind: 'dir', path: '/etc/kvc/usbip', file: 'x' })).to.deep.equal({ remote: false, source: '/etc/kvc/usbip', pinned: 'local' });
    expect(describeContext({ kind: 'url', url: `git://h/r.git#${'a1'.repeat(20)}`, file: 'x' }).pinned).to.equal('commit');
    expect(describeContext({ kind: 'url', url: 'git://h/r.git#v1.2', file: 'x' }).pinned).to.equal('ref');
    expect(describeContext({ kind: 'url', url: 'https://h/r.git', file: 'x' })).to.deep.equal({ remote: true, source: 'https://h/r.git', pinned: 'none' });
  });
});
