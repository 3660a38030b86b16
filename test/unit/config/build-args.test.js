// Unit tests: KVC_BUILD_ARGS' canonical form (the image label) and the comparison that tells a
// stale image, and the build command it becomes.
import { expect } from 'chai';
import { buildArgsMismatch, canonicalBuildArgs, parseBuildArgs } from '../../../lib/config/build-args.js';
import { buildArgs } from '../../../lib/runtime/args.js';

describe('KVC_BUILD_ARGS: canonical form and stale images', () => {
  it('the canonical form is sorted by name, whatever order the conf lists them in', () => {
    const a = parseBuildArgs('USBIP_VHCI_NR_HCS=16 USBIP_VHCI_HC_PORTS=15', '/etc/kvc/usbip.conf');
    const b = parseBuildArgs(' USBIP_VHCI_HC_PORTS=15\tUSBIP_VHCI_NR_HCS=16 ', '/etc/kvc/usbip.conf');
    expect(canonicalBuildArgs(a)).to.equal('USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16');
    expect(canonicalBuildArgs(b)).to.equal(canonicalBuildArgs(a));
    expect(canonicalBuildArgs({})).to.equal('');
  });

  it('an image is stale exactly when its label differs from the conf; a missing label equals no build args', () => {
    const args = { USBIP_VHCI_NR_HCS: '16', USBIP_VHCI_HC_PORTS: '15' };
    expect(buildArgsMismatch('USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16', args)).to.equal(undefined);
    expect(buildArgsMismatch(undefined, {})).to.equal(undefined);
    expect(buildArgsMismatch('', {})).to.equal(undefined);
    expect(buildArgsMismatch(undefined, args)).to.equal('it was built with build args none, KVC_BUILD_ARGS now says "USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16"');
    expect(buildArgsMismatch('USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=8', args)).to.match(/"USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=8", KVC_BUILD_ARGS now says "USBIP_VHCI_HC_PORTS=15 USBIP_VHCI_NR_HCS=16"/);
    expect(buildArgsMismatch('USBIP_VHCI_NR_HCS=16', {})).to.equal('it was built with build args "USBIP_VHCI_NR_HCS=16", KVC_BUILD_ARGS now says none');
    expect(buildArgsMismatch('A=', {}), 'an empty value is still a build arg').to.not.equal(undefined);
  });

  it('each pair becomes one --build-arg argument, before KVER and KMODVER', () => {
    const argv = buildArgs('podman', { tag: 't', file: 'f', context: 'c', buildArgs: { A: 'x=y', KVER: 'k', KMODVER: '1' }, labels: { 'io.kvc.build-args': 'A=x=y' } });
    const from = argv.indexOf('--build-arg');
    expect(argv.slice(from, from + 6)).to.deep.equal(['--build-arg', 'A=x=y', '--build-arg', 'KVER=k', '--build-arg', 'KMODVER=1']);
    expect(argv.slice(argv.indexOf('--label'), argv.indexOf('--label') + 2)).to.deep.equal(['--label', 'io.kvc.build-args=A=x=y']);
  });
});
