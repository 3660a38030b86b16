// Integration: `kvc check` (and kvc status) on this machine, with the real podman and this real
// kernel, which has no module support: check must say so and fail; a broken configuration is
// listed whole; a devices file others may write fails check and status alike.
import { expect } from 'chai';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { kvc, makeConfigDir, removeDir } from './harness.js';

describe('integration: kvc check', function () {
  this.timeout(120000);
  let configDir;
  beforeEach(() => { configDir = makeConfigDir(); });
  afterEach(() => removeDir(configDir));

  it('on this machine: the runtime answers, the config is valid, and the kernel fails for lack of module support (77)', () => {
    const result = kvc(['check'], { configDir });
    expect(result.status, result.stderr).to.equal(77);
    expect(result.stdout).to.match(/^ok {4}runtime: podman \d+\.\d+\.\d+ answers$/m);
    expect(result.stdout).to.match(/^ok {4}config: valid: usbip$/m);
    expect(result.stdout).to.include(`FAIL  kernel: kernel ${release()} has no loadable module support (no /proc/modules); do: boot a kernel built with CONFIG_MODULES=y`);
    expect(kvc(['doctor', 'usbip'], { configDir }).status).to.equal(77);
  });

  it('every configuration error at once, each with its file and line, and the right name of a misspelled key (78)', () => {
    const conf = join(configDir, 'usbip.conf');
    writeFileSync(conf, `${readFileSync(conf, 'utf8')}this line is wrong\nKVC_HOST_TOOLS=$(id)\n`);
    writeFileSync(join(configDir, 'kvc.conf'), 'KVC_KEEP_KERNEL=2\n');
    const result = kvc(['check'], { configDir });
    expect(result.status, result.stderr).to.equal(78);
    const fails = result.stdout.split('\n').filter((line) => line.startsWith('FAIL  config: '));
    expect(fails).to.have.length(3);
    expect(result.stdout).to.match(/kvc\.conf:1: KVC_KEEP_KERNEL: is not a kvc setting; did you mean KVC_KEEP_KERNELS\?/);
    expect(result.stdout).to.match(/usbip\.conf: line \d+ is not KEY=value: "this line is wrong"/);
    expect(result.stdout).to.match(/usbip\.conf: KVC_HOST_TOOLS: line \d+ uses \$ or `/);
  });

  it('a devices file others may write: check fails (78) and status shows it and fails (78); made root-only, both pass that point', () => {
    const devices = join(configDir, 'usbip.devices');
    writeFileSync(devices, '[export.disk]\ndevice = 46f4:0001\nclients = 10.0.0.2\n');
    chmodSync(devices, 0o666);
    let result = kvc(['check', 'usbip'], { configDir });
    expect(result.status).to.equal(78);
    expect(result.stdout).to.match(/^FAIL  devices: .*usbip\.devices: .*usbip\.devices is writable by others \(mode 666\); kvc runs as root and will not use it/m);
    result = kvc(['status', 'usbip'], { configDir });
    expect(result.status, result.stderr).to.equal(78);
    expect(result.stdout).to.match(/devices: .*writable by others \(mode 666\)/);
    expect(result.stdout).to.match(/problems \(1\):/);
    chmodSync(devices, 0o600);
    result = kvc(['check', 'usbip'], { configDir });
    expect(result.stdout).to.match(/^ok {4}devices: .*usbip\.devices is valid/m);
  });
});
