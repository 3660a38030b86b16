// Integration tests on the real podman of this machine: the real USB/IP image for a Debian kernel.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KVER, ROOT, IMAGE, kvc, podman, makeConfigDir, removeDir } from './harness.js';

const version = /^KMOD_SOFTWARE_VERSION="?([^"\s]+)"?/m.exec(readFileSync(join(ROOT, 'host/etc/kvc/usbip.conf'), 'utf8'))[1];
const image = IMAGE(version);
const MODULES = ['usbip-core', 'usbip-host', 'vhci-hcd'];

describe('integration: the USB/IP image on a real podman', function () {
  this.timeout(30 * 60 * 1000);
  let configDir;
  let firstId;

  before(() => {
    configDir = makeConfigDir();
    // Build from nothing: the test is that kvc builds the image, not that one is there.
    podman(['rmi', '--ignore', '--force', image]);
  });
  after(() => removeDir(configDir));

  it(`kvc build usbip ${KVER} builds ${image} with labels`, () => {
    const result = kvc(['build', 'usbip', KVER], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/built localhost\/usbip-1\.0\.0:6\S+ in \d+ s/);
    const [info] = JSON.parse(podman(['image', 'inspect', image]));
    expect(info.Labels['io.kvc.instance']).to.equal('usbip');
    expect(info.Labels['io.kvc.kernel']).to.equal(KVER);
    firstId = info.Id;
    const names = podman(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(names, 'no temporary build name is left').to.not.match(/kvc-pending/);
  });

  for (const module of MODULES) {
    it(`${module} in the image has vermagic ${KVER}`, () => {
      const vermagic = podman(['run', '--rm', '--network=none', image, 'modinfo', '-k', KVER, '-F', 'vermagic', module]).trim();
      expect(vermagic.split(/\s+/)[0]).to.equal(KVER);
    });
  }

  it('the image carries kmod and depmod output, not the toolchain', () => {
    const listing = podman(['run', '--rm', '--network=none', image, 'sh', '-c', `ls /lib/modules/${KVER}; command -v modprobe; command -v gcc || echo no-gcc`]);
    expect(listing).to.match(/modules\.dep\b/);
    expect(listing).to.match(/modprobe/);
    expect(listing).to.match(/no-gcc/);
  });

  it('a second build is skipped and keeps the same image', () => {
    const result = kvc(['build', 'usbip', KVER], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/is up to date for .*nothing to build/);
    expect(JSON.parse(podman(['image', 'inspect', image]))[0].Id).to.equal(firstId);
  });

  it('kvc wrapper usbip <kver> usbip version runs the real tool', () => {
    const result = kvc(['wrapper', 'usbip', KVER, 'usbip', 'version'], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^usbip \(usbip-utils [0-9.]+\)/);
  });

  it('kvc wrapper passes stdin, stdout, stderr and the exit status through unchanged', () => {
    const result = kvc(['wrapper', 'usbip', KVER, 'sh', '-c', 'cat; echo to-stderr >&2; exit 7'], { configDir, input: 'line one\nline two\n' });
    expect(result.status).to.equal(7);
    expect(result.stdout).to.equal('line one\nline two\n');
    expect(result.stderr).to.equal('to-stderr\n');
  });

  it('kvc wrapper passes option-looking arguments to the tool, not to podman', () => {
    const result = kvc(['wrapper', 'usbip', KVER, 'echo', '--privileged', '-v', '/:/host'], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.equal('--privileged -v /:/host\n');
  });

  it('kvc status --json lists the instance, the kernel that has an image, and module states', () => {
    const result = kvc(['status', '--json'], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    const report = JSON.parse(result.stdout);
    const usbip = report.instances.find((instance) => instance.name === 'usbip');
    expect(usbip.error).to.equal(null);
    expect(usbip.images.map((entry) => entry.kernel)).to.include(KVER);
    expect(usbip.images.find((entry) => entry.kernel === KVER).image).to.equal(image);
    expect(usbip.modules.map((m) => m.name)).to.deep.equal(MODULES.map((m) => m.replaceAll('-', '_')));
    expect(report.runtime).to.equal('podman');
  });

  it('kvc status prints the same as text', () => {
    // As the running kernel, KVER is always one kvc keeps (other tests' images of newer kernels
    // would otherwise make it one to prune, whose line says so).
    const result = kvc(['status', 'usbip'], { configDir, env: { KVC_RUNNING_KERNEL: KVER } });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(new RegExp(`kernel ${KVER.replace(/[.+]/g, '\\$&')} \\([^)]*\\): ${image.replace(/[.+]/g, '\\$&')}, \\d+ MB, built \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d`));
    expect(result.stdout).to.match(/modules: usbip_core=(absent|live|builtin)/);
  });

  it('--dry-run prints the build command and builds nothing', () => {
    const before = podman(['images', '--all', '--quiet']);
    const result = kvc(['--dry-run', 'build', 'usbip', KVER, '--force'], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stdout).to.match(/^podman --events-backend=none build --file \S+Containerfile\.debian --tag localhost\/usbip-\S+kvc-pending-\d+ --force-rm --layers --no-cache --build-arg KVER=6/m);
    expect(podman(['images', '--all', '--quiet'])).to.equal(before);
  });

  it('--force rebuilds, checks the new image, then gives it the name', () => {
    const result = kvc(['build', 'usbip', KVER, '--force'], { configDir });
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/built localhost\/usbip-/);
    const names = podman(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(names).to.contain(image.replace(/^localhost\//, 'localhost/'));
    expect(names).to.not.match(/kvc-pending/);
  });
});
