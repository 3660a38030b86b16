// Integration test on the real podman of this machine (issue 21, a kernel that is not the
// distribution's): `kvc build usbip-ksrc K --kernel-source TARBALL --kernel-config FILE` builds
// Debian's 6.1 kernel's USB/IP modules from a source tarball and a config file the user names,
// with the symbol CRCs recovered from a host-like modules tree (a host root, KVC_HOST_ROOT, holding
// the kernel's installed modules and no config of its own), through the instance's header-less
// recipe. The real parts: the linux-source-6.1 tarball and linux-image package of the kernel's
// exact version (downloaded once into /var/cache/kvc-test/kernel-source). Its usbip-core,
// usbip-host and vhci-hcd carry the same CRCs and vermagic as the headers-built ones. Negative: a
// config with one ABI-relevant option flipped is refused before any build, the option named; a
// source tarball of another version is refused with its version named.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, IMAGE, kvc, podman, makeConfigDir, removeDir, usbipImage } from './harness.js';

const CACHE = '/var/cache/kvc-test/kernel-source';
const MODULES = ['usbip-core', 'usbip-host', 'vhci-hcd'];
// An instance with the headers recipe: --kernel-source switches it to its -source sibling.
const INSTANCE = 'usbip-ksrc';
const image = usbipImage(KVER).replace('/usbip-', `/${INSTANCE}-`);

const run = (command, args, options = {}) => execFileSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...options });

// The kernel's parts, once: its source tarball, its config, and a host root with its modules
// (depmod run, as an installed kernel has them) and no config.
function prepare() {
  const version = run('apt-cache', ['show', '--no-all-versions', `linux-image-${KVER}`]).match(/^Version: (\S+)$/m)[1];
  const dir = join(CACHE, version);
  const tarball = join(dir, 'linux-source-6.1.tar.xz');
  const config = join(dir, `config-${KVER}`);
  const host = join(dir, 'host');
  if (!existsSync(join(dir, 'ready'))) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    run('apt-get', ['download', '-qq', `linux-source-6.1=${version}`, `linux-image-${KVER}=${version}`], { cwd: dir });
    run('sh', ['-c', 'dpkg-deb --fsys-tarfile linux-source-6.1_*.deb | tar -xO ./usr/src/linux-source-6.1.tar.xz > linux-source-6.1.tar.xz', 'sh'], { cwd: dir });
    run('dpkg-deb', ['-x', `linux-image-${KVER}_${version}_amd64.deb`, host], { cwd: dir });
    renameSync(join(host, 'boot', `config-${KVER}`), config);
    rmSync(join(host, 'boot'), { recursive: true });
    run('depmod', ['-b', host, KVER]);
    run('sh', ['-c', 'rm -f *.deb'], { cwd: dir });
    writeFileSync(join(dir, 'ready'), `${version}\n`);
  }
  return { version, tarball, config, host };
}

// What kmod says of one module in an image: its CRCs and vermagic.
function abiOf(from, module) {
  const path = `/lib/modules/${KVER}/extra/${module}.ko`;
  const inImage = (args) => podman(['run', '--rm', '--network=none', from, ...args]);
  return {
    versions: inImage(['modprobe', '--dump-modversions', path]).split('\n').filter((line) => line !== '').sort(),
    vermagic: inImage(['modinfo', '-F', 'vermagic', path]),
  };
}

describe('integration: kvc build --kernel-source --kernel-config on a real podman', function () {
  this.timeout(40 * 60 * 1000);
  let configDir;
  let parts;
  let scratch;
  const build = (args, root) => kvc(['build', INSTANCE, KVER, ...args], { configDir, env: { KVC_HOST_ROOT: root } });

  before(() => {
    parts = prepare();
    scratch = mkdtempSync(join(tmpdir(), 'kvc-ksource-'));
    configDir = makeConfigDir();
    const conf = readFileSync(join(configDir, 'usbip.conf'), 'utf8');
    writeFileSync(join(configDir, `${INSTANCE}.conf`), conf.replace(/^KVC_DEVICE_MANAGER=.*$/m, ''));
    podman(['rmi', '--ignore', '--force', image]);
  });
  after(() => {
    removeDir(configDir);
    rmSync(scratch, { recursive: true, force: true });
    podman(['rmi', '--ignore', '--force', image]);
  });

  it('a config with one ABI-relevant option flipped is refused before anything is built, the option named', () => {
    // A host that has the kernel's own config (/boot/config-K) and its modules.
    const root = join(scratch, 'root');
    mkdirSync(join(root, 'boot'), { recursive: true });
    symlinkSync(join(parts.host, 'lib'), join(root, 'lib'));
    writeFileSync(join(root, 'boot', `config-${KVER}`), readFileSync(parts.config));
    const flipped = join(scratch, 'config-flipped');
    const text = readFileSync(parts.config, 'utf8');
    expect(text).to.match(/^# CONFIG_PREEMPT is not set$/m);
    writeFileSync(flipped, text.replace(/^# CONFIG_PREEMPT is not set$/m, 'CONFIG_PREEMPT=y'));
    const result = build(['--kernel-source', parts.tarball, '--kernel-config', flipped], root);
    expect(result.status, result.stderr).to.equal(64);
    expect(result.stderr).to.contain(`--kernel-config ${flipped} is not the config of kernel ${KVER}: it differs from ${join(root, 'boot', `config-${KVER}`)}`);
    expect(result.stderr).to.contain('CONFIG_PREEMPT: n ≠ y');
    expect(result.stderr).not.to.match(/STEP|building /);
    expect(podman(['images', '--quiet', image]).trim()).to.equal('');
  });

  it('a source tarball of another version is refused with its version named', () => {
    // The kernel's own top Makefile, with another SUBLEVEL: what a tarball of 6.1.100 starts with.
    const tree = join(scratch, 'linux-6.1.100');
    mkdirSync(tree, { recursive: true });
    const makefile = run('tar', ['-xOf', parts.tarball, '--occurrence=1', 'linux-source-6.1/Makefile']);
    writeFileSync(join(tree, 'Makefile'), makefile.replace(/^SUBLEVEL = \d+$/m, 'SUBLEVEL = 100'));
    const other = join(scratch, 'linux-6.1.100.tar.xz');
    run('tar', ['-cJf', other, '-C', scratch, 'linux-6.1.100']);
    const started = Date.now();
    const result = build(['--kernel-source', other, '--kernel-config', parts.config], parts.host);
    expect(result.status).to.not.equal(0);
    expect(result.stderr).to.contain(`the kernel source named with --kernel-source is version 6.1.100, but kernel ${KVER} is ${parts.version.replace(/-.*/, '')} (its config says so)`);
    console.log(`      (refused in ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  });

  it('builds from the named tarball and config, CRCs from the host\'s modules, with no headers package', () => {
    const started = Date.now();
    const result = build(['--kernel-source', parts.tarball, '--kernel-config', parts.config], parts.host);
    expect(result.status, result.stderr).to.equal(0);
    const recipe = podman(['run', '--rm', '--network=none', image, 'cat', '/usr/lib/kvc/recipe']);
    expect(recipe).to.match(new RegExp(`^header-less recipe: ${KVER.replace(/[.+]/g, '\\$&')} from the source named with --kernel-source, the config kvc passed \\(--kernel-config or the host's\\) and \\d{5} symbol CRCs from ${KVER.replace(/[.+]/g, '\\$&')}'s modules on the host`));
    // Nothing of the user's source or config is in the image's layers.
    const history = podman(['history', '--no-trunc', '--format', '{{.CreatedBy}}', image]);
    expect(history).not.to.contain(parts.tarball);
    console.log(`      (build from --kernel-source: ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  });

  for (const module of MODULES) {
    it(`${module}: the same CRCs and vermagic as the headers-built one`, function () {
      if (podman(['images', '--quiet', image]).trim() === '') this.skip();
      if (podman(['images', '--quiet', IMAGE('1.0.0')]).trim() === '') {
        const built = kvc(['build', 'usbip', KVER], { configDir });
        expect(built.status, built.stderr).to.equal(0);
      }
      const source = abiOf(image, module);
      const headers = abiOf(IMAGE('1.0.0'), module);
      expect(source.versions.length, 'imports with CRCs').to.be.greaterThan(30);
      expect(source.versions).to.deep.equal(headers.versions);
      expect(source.vermagic).to.equal(headers.vermagic);
    });
  }
});
