// Unit tests, on data: the AppArmor profile kvc renders for an instance's tool containers, the
// plan that decides whether to load it, and the runtime arguments that run a container under it.
// The host's real apparmor_parser compiles each rendered profile without loading it (-Q: this
// test host's kernel has no AppArmor; the guest of test/e2e/guest/usbip-e2e.sh loads it for real).
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isSysfsWritePattern, renderToolsProfile, toolsProfileName } from '../../../lib/host/apparmor-profile.js';
import { appArmorPlan } from '../../../lib/ops/tools-apparmor.js';
import { daemonRunArgs, toolRunArgs, toolsHolderRunArgs } from '../../../lib/runtime/args.js';

const USBIP_WRITES = ['/sys/bus/usb/drivers/usbip-host/bind', '/sys/bus/usb/drivers/*/unbind', '/sys/devices/platform/vhci_hcd.*/attach', '/sys/devices/**/usbip_sockfd'];
const PARSER = ['/usr/sbin/apparmor_parser', '/sbin/apparmor_parser'].find((path) => existsSync(path));

// What the parser says of a profile: compiled to a binary policy on stdout (not loaded).
function compile(text) {
  return execFileSync(PARSER, ['-Q', '-K', '-S'], { input: text, stdio: ['pipe', 'pipe', 'pipe'] });
}

describe('AppArmor profile for tool containers', () => {
  it('renders the exact profile: scratch folders writable, the declared sysfs files writable, nothing else of /sys', () => {
    expect(renderToolsProfile('usbip', USBIP_WRITES)).to.equal([
      "# kvc's profile for the containers that run usbip's tools (written by kvc at each load; edits are lost).",
      'profile kvc-usbip flags=(attach_disconnected,mediate_deleted) {',
      '  network,',
      '  unix,',
      '  signal (receive) peer=unconfined,',
      '  signal (receive) peer={/usr/bin/,/usr/sbin/,}runc,',
      '  signal (receive) peer={/usr/bin/,/usr/sbin/,}crun,',
      '  signal (receive) set=(int, quit, kill, term) peer={/usr/bin/,/usr/sbin/,}podman,',
      '  signal (send,receive) peer=kvc-usbip,',
      '  /** rmix,',
      '  /dev/** rwk,',
      '  /tmp/** rwlk,',
      '  /run/** rwlk,',
      '  /var/tmp/** rwlk,',
      '  deny /{tmp,var/tmp,run,dev/shm}/** mx,',
      "  # the sysfs files usbip's tools write (KVC_TOOLS_SYSFS_WRITES)",
      '  /sys/bus/usb/drivers/usbip-host/bind w,',
      '  /sys/bus/usb/drivers/*/unbind w,',
      '  /sys/devices/platform/vhci_hcd.*/attach w,',
      '  /sys/devices/**/usbip_sockfd w,',
      '  deny /sys/fs/cgroup/** wkl,',
      '  deny /sys/power/** w,',
      '  deny /sys/kernel/{debug,tracing,config}/** rwklx,',
      '  deny /sys/devices/virtual/powercap/** rwklx,',
      '  deny /sys/firmware/** rwklx,',
      '  deny /sys/kernel/security/** rwklx,',
      '  deny /proc/kcore rwklx,',
      '}',
      '',
    ].join('\n'));
  });

  it('an instance that declares nothing may write all of /sys (the bash KVC wrapper was privileged)', () => {
    const text = renderToolsProfile('legacy', undefined);
    expect(text).to.contain('profile kvc-legacy ');
    expect(text).to.contain('\n  /sys/** w,\n');
  });

  it('has no capability rule: a container under it gets none, whatever the runtime grants', () => {
    expect(renderToolsProfile('usbip', USBIP_WRITES)).not.to.match(/^\s*capability/m);
  });

  it('accepts sysfs patterns and refuses what would escape /sys or inject a rule', () => {
    for (const good of USBIP_WRITES) expect(isSysfsWritePattern(good), good).to.equal(true);
    for (const bad of ['/etc/shadow', '/sys/../etc/passwd', '/sys/bus/usb/drivers/*/bind w, /** w', '/sys/a,b', '/sys/a**b', '/sys/', '/sys/a//b', '/sys/{a,b}', 'sys/bus', '/sys/a\n/** w']) {
      expect(isSysfsWritePattern(bad), JSON.stringify(bad)).to.equal(false);
    }
    expect(() => renderToolsProfile('usbip', ['/sys/a w, /** w'])).to.throw(/not a sysfs write pattern/);
  });

  it('the real apparmor_parser compiles the profile USB/IP ships and the legacy one', function () {
    if (PARSER === undefined) this.skip(); // test/setup/install-host-deps.sh installs apparmor
    expect(compile(renderToolsProfile('usbip', USBIP_WRITES)).length).to.be.greaterThan(1000);
    expect(compile(renderToolsProfile('legacy', undefined)).length).to.be.greaterThan(1000);
    // And it would refuse a broken one: the check can fail.
    expect(() => compile('profile kvc-broken {\n  /sys/** wz,\n}\n')).to.throw();
  });

  it('names the profile after the instance', () => {
    expect(toolsProfileName('usbip')).to.equal('kvc-usbip');
  });
});

describe('AppArmor plan for tool containers', () => {
  const settings = { name: 'usbip', toolsSysfsWrites: USBIP_WRITES };
  it('does nothing where the kernel does not enforce AppArmor', () => {
    expect(appArmorPlan({ enabled: false, parser: '/usr/sbin/apparmor_parser' }, settings, 'podman')).to.deep.equal({ kind: 'none' });
  });
  it('loads kvc-<instance> with the host parser where it does', () => {
    const plan = appArmorPlan({ enabled: true, parser: '/usr/sbin/apparmor_parser' }, settings, 'podman');
    expect(plan).to.include({ kind: 'load', parser: '/usr/sbin/apparmor_parser', profile: 'kvc-usbip' });
    expect(plan.text).to.equal(renderToolsProfile('usbip', USBIP_WRITES));
  });
  it('warns, naming the package and what each runtime then does, where AppArmor is on but its parser is missing', () => {
    const podman = appArmorPlan({ enabled: true, parser: undefined }, settings, 'podman');
    expect(podman.kind).to.equal('no-parser');
    expect(podman.warning).to.match(/apparmor_parser is not installed.*podman then runs them without any AppArmor profile.*apt install apparmor/);
    expect(appArmorPlan({ enabled: true, parser: undefined }, settings, 'docker').warning).to.match(/docker then cannot start their containers/);
  });
});

describe('runtime arguments under kvc\'s AppArmor profile', () => {
  it('the tools container, a tool\'s own container and a daemon run under the profile when given one, and without the option when not', () => {
    expect(toolsHolderRunArgs('podman', 'img', 'kvc-usbip-tools', 'usbip', 'kvc-usbip')).to.include('--security-opt=apparmor=kvc-usbip');
    expect(toolsHolderRunArgs('podman', 'img', 'kvc-usbip-tools', 'usbip').join(' ')).not.to.contain('apparmor');
    expect(toolRunArgs('img', ['usbip'], { tty: false, apparmor: 'kvc-usbip' })).to.include('--security-opt=apparmor=kvc-usbip');
    expect(toolRunArgs('img', ['usbip'], { tty: false }).join(' ')).not.to.contain('apparmor');
    const daemon = { image: 'img', containerName: 'kvc-usbip-usbipd', instance: 'usbip', role: 'usbipd', command: ['usbipd'], writable: [], apparmor: 'kvc-usbip' };
    expect(daemonRunArgs('podman', daemon)).to.include('--security-opt=apparmor=kvc-usbip');
    // The option comes before the image: after it, it would be the tool's argument.
    const args = toolRunArgs('img', ['usbip'], { tty: false, apparmor: 'kvc-usbip' });
    expect(args.indexOf('--security-opt=apparmor=kvc-usbip')).to.be.lessThan(args.indexOf('img'));
  });
  it('refuses a profile name that is not plain or not kvc\'s (unconfined would drop every rule)', () => {
    expect(() => toolRunArgs('img', ['usbip'], { tty: false, apparmor: 'kvc-a,x' })).to.throw(/not a plain name/);
    expect(() => toolRunArgs('img', ['usbip'], { tty: false, apparmor: 'unconfined' })).to.throw(/not a plain name/);
  });
});
