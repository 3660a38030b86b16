// Integration test: an instance's KVC_BUILD_ARGS with the real kvc CLI and the real podman. The
// usbip image for KVER built with USBIP_VHCI_NR_HCS=16 USBIP_VHCI_HC_PORTS=15: the build args reach
// the build (its log, and the controller count compiled into vhci-hcd.ko), the image carries them
// in its label; the same conf again skips, other build args rebuild (saying why), a value out of
// range fails the build and leaves the image there. (The guest of test/e2e/run.sh shows what the
// kernel makes of them: vhci_hcd.0 to .15, nports 480.)
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, IMAGE, kvc, podman, makeConfigDir, removeDir } from './harness.js';

const LABEL = 'io.kvc.build-args';
const label = () => podman(['image', 'inspect', '--format', `{{index .Labels "${LABEL}"}}`, IMAGE()]).trim();
const imageId = () => podman(['image', 'inspect', '--format', '{{.Id}}', IMAGE()]).trim();

// The initial value of vhci-hcd's vhci_num_controllers (VHCI_NR_HCS, as compiled), read from the
// module file in the image: the symbol's offset in its section, that section's bytes in the file.
function compiledControllers() {
  const dir = mkdtempSync(join(tmpdir(), 'kvc-it-ko-'));
  try {
    const ko = join(dir, 'vhci-hcd.ko');
    writeFileSync(ko, podman(['run', '--rm', '--network=none', IMAGE(), 'cat', `/lib/modules/${KVER}/extra/vhci-hcd.ko`], { encoding: 'buffer' }));
    const symbol = execFileSync('readelf', ['-sW', ko], { encoding: 'utf8' }).split('\n').find((line) => / vhci_num_controllers$/.test(line));
    expect(symbol, 'vhci_num_controllers in the symbol table').to.be.a('string');
    const [, value, size, , , , section] = symbol.trim().split(/\s+/);
    expect(Number(size)).to.equal(4);
    const header = execFileSync('readelf', ['-SW', ko], { encoding: 'utf8' }).split('\n').find((line) => line.includes(`[${section.padStart(2)}]`));
    const fileOffset = parseInt(header.slice(header.indexOf(']') + 1).trim().split(/\s+/)[3], 16);
    return readFileSync(ko).readInt32LE(fileOffset + parseInt(value, 16));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('integration: KVC_BUILD_ARGS reach the Containerfile, are recorded, and decide when kvc rebuilds', function () {
  this.timeout(30 * 60 * 1000);
  let configDir;
  const conf = (buildArgs) => {
    const path = join(configDir, 'usbip.conf');
    writeFileSync(path, readFileSync(path, 'utf8').replace(/^KVC_BUILD_ARGS=.*\n/m, ''));
    if (buildArgs !== undefined) appendFileSync(path, `KVC_BUILD_ARGS="${buildArgs}"\n`);
  };
  const build = () => kvc(['build', 'usbip', KVER], { configDir, timeout: 20 * 60 * 1000 });

  before(() => {
    configDir = makeConfigDir();
  });
  after(() => {
    // Leave the image as the other tests expect it: built with no build args.
    conf(undefined);
    build();
    removeDir(configDir);
  });

  it('USBIP_VHCI_NR_HCS=16 USBIP_VHCI_HC_PORTS=15: passed to the build, recorded sorted in the label, 16 controllers compiled in', () => {
    // From an image built with none (built now if the one there has others).
    conf(undefined);
    expect(build().status).to.equal(0);
    conf('USBIP_VHCI_NR_HCS=16 USBIP_VHCI_HC_PORTS=15');
    const result = build();
    expect(result.stderr).to.include(`rebuilding ${IMAGE()}: it was built with build args none, KVC_BUILD_ARGS now says "USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16"`);
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.include(`with build args USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16`);
    const log = /; log: (\S+)$/m.exec(result.stderr)?.[1];
    expect(log, 'the build log').to.be.a('string');
    expect(readFileSync(log, 'utf8')).to.include('vhci-hcd: 16 controllers, 15 ports per hub');
    expect(label()).to.equal('USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16');
    expect(compiledControllers()).to.equal(16);
  });

  it('the same build args in another order: up to date, nothing built', () => {
    const before = imageId();
    conf('USBIP_VHCI_HC_PORTS=15  USBIP_VHCI_NR_HCS=16');
    const result = build();
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.match(/is up to date for .*; nothing to build/);
    expect(result.stderr).to.not.match(/building /);
    expect(imageId()).to.equal(before);
  });

  it('other build args: kvc says why and rebuilds, with the new value compiled in', () => {
    const before = imageId();
    conf('USBIP_VHCI_NR_HCS=4 USBIP_VHCI_HC_PORTS=15');
    const result = build();
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.include(`rebuilding ${IMAGE()}: it was built with build args "USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16", KVC_BUILD_ARGS now says "USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=4"`);
    expect(imageId()).to.not.equal(before);
    expect(label()).to.equal('USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=4');
    expect(compiledControllers()).to.equal(4);
  });

  it('a value out of range fails the build with the Containerfile\'s message, and the image stays', () => {
    const before = imageId();
    conf('USBIP_VHCI_NR_HCS=129');
    const result = build();
    expect(result.status).to.equal(70);
    expect(result.stderr).to.include('build arg USBIP_VHCI_NR_HCS=129: must be a whole number from 1 to 128');
    expect(imageId()).to.equal(before);
  });

  it('a reserved name is refused before anything is built (78)', () => {
    conf('KVER=6.1.0-1-amd64');
    const result = build();
    expect(result.status).to.equal(78);
    expect(result.stderr).to.match(/usbip\.conf: KVC_BUILD_ARGS: sets KVER, which kvc passes itself \(.*\); remove KVER from KVC_BUILD_ARGS/);
  });

  it('no KVC_BUILD_ARGS again: rebuilt with none (the kernel\'s own 8 controllers), and then up to date', () => {
    conf(undefined);
    const result = build();
    expect(result.status, result.stderr).to.equal(0);
    expect(result.stderr).to.include('KVC_BUILD_ARGS now says none');
    expect(label()).to.equal('');
    expect(compiledControllers()).to.equal(8);
    const again = build();
    expect(again.stderr).to.match(/is up to date/);
  });
});
