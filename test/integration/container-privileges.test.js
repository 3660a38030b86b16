// What each kind of container kvc starts is given, measured on the real podman: each is started
// with kvc's own argument builders, its command replaced by one that prints its capabilities,
// seccomp mode, no_new_privs and mounts (the tools container is measured as it runs). The
// README's table "What each container is given" is written from these values.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { CONTAINERS_CONF, KVER, ensureUsbipImage, podman } from './harness.js';
import { inspectRunArgs, moduleRunArgs, toolRunArgs, toolsHolderRunArgs } from '../../lib/runtime/args.js';

const IMAGE = `localhost/usbip-1.0.0:${KVER}`;
const PROBE = ['sh', '-c', 'grep -E "^(CapEff|CapBnd|NoNewPrivs|Seccomp):" /proc/self/status; cat /proc/self/mountinfo'];
const CAP_SYS_MODULE = 1n << 16n;

// { capEff, capBnd, noNewPrivs, seccomp, sys: 'rw'|'ro'|undefined, dev: fs type of /dev }
function parse(text) {
  const field = (name) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1];
  const mount = (point) => text.split('\n').map((line) => line.split(' ')).find((parts) => parts[4] === point);
  const sys = mount('/sys');
  const dev = mount('/dev');
  return {
    capEff: BigInt(`0x${field('CapEff')}`),
    capBnd: BigInt(`0x${field('CapBnd')}`),
    noNewPrivs: field('NoNewPrivs'),
    seccomp: field('Seccomp'),
    sys: sys === undefined ? undefined : sys[5].split(',')[0],
    dev: dev === undefined ? undefined : `${dev[dev.indexOf('-') + 1]} ${dev[5].split(',')[0]}`,
  };
}

// Runs kvc's argument list with its command (everything after the image) replaced by PROBE.
function measure(args) {
  const at = args.indexOf(IMAGE);
  const probeArgs = [...args.slice(0, at + 1).filter((arg) => arg !== '--interactive'), ...PROBE];
  return parse(podman(probeArgs));
}

describe('what each container kvc starts is given (measured on the real podman)', function () {
  this.timeout(120000);
  before(() => ensureUsbipImage());
  after(() => { try { podman(['rm', '--force', '--time=0', 'kvc-privileges-tools']); } catch { /* gone */ } });

  it('image checks (modinfo): no capabilities, seccomp filter, no new privileges', () => {
    const got = measure(inspectRunArgs(IMAGE, ['modinfo']));
    expect(got).to.include({ capEff: 0n, capBnd: 0n, noNewPrivs: '1', seccomp: '2', sys: 'ro' });
  });

  it('load/unload (modprobe, rmmod): CAP_SYS_MODULE only, seccomp filter, no new privileges, /sys read-only', () => {
    const got = measure(moduleRunArgs(IMAGE, ['modprobe']));
    expect(got).to.include({ capEff: CAP_SYS_MODULE, capBnd: CAP_SYS_MODULE, noNewPrivs: '1', seccomp: '2', sys: 'ro' });
  });

  it('wrapper and pre-unload hook: no capabilities, seccomp filter, host /sys read-write, host /dev read-only', () => {
    const got = measure(toolRunArgs(IMAGE, ['usbip'], { tty: false }));
    expect(got).to.include({ capEff: 0n, capBnd: 0n, noNewPrivs: '1', seccomp: '2', sys: 'rw', dev: 'devtmpfs ro' });
  });

  it('the tools container, as it runs: no capabilities, seccomp filter, host /sys read-write, host /dev read-only', () => {
    podman(toolsHolderRunArgs('podman', IMAGE, 'kvc-privileges-tools', 'kvc-privileges-test'));
    const pid = JSON.parse(podman(['container', 'inspect', 'kvc-privileges-tools']))[0].State.Pid;
    const got = parse(`${readFileSync(`/proc/${pid}/status`, 'utf8')}\n${readFileSync(`/proc/${pid}/mountinfo`, 'utf8')}`);
    expect(got).to.include({ capEff: 0n, capBnd: 0n, noNewPrivs: '1', seccomp: '2', sys: 'rw', dev: 'devtmpfs ro' });
  });
});
