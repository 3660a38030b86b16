// Unit tests: kvc's kernel hook (packaging/kernel/kvc, installed as /etc/kernel/postinst.d/kvc and
// postrm.d/kvc), run by the system's sh (dash on Debian) as a kernel package runs it, with fake
// systemctl, kvc and logger first on PATH that record their arguments and answer as told.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const HOOK = resolve(dirname(fileURLToPath(import.meta.url)), '../../../packaging/kernel/kvc');
const KVER = '6.12.117+deb12-amd64';

// A fake command: appends "name args…" to calls.log; its exit status and output come from
// <name>.<first-arg>.status / .out files when present (else 0 and nothing).
const FAKE = `#!/bin/sh
name=\${0##*/}
echo "$name $*" >>"$FAKE_DIR/calls.log"
for a in "$@"; do case $a in -*) ;; *) key=$a; break ;; esac; done
[ -f "$FAKE_DIR/$name.$key.out" ] && cat "$FAKE_DIR/$name.$key.out"
[ -f "$FAKE_DIR/$name.$key.status" ] && exit "$(cat "$FAKE_DIR/$name.$key.status")"
exit 0
`;

describe('packaging: the kernel hook (/etc/kernel/postinst.d/kvc, postrm.d/kvc)', () => {
  let dir;
  let bin;
  let conf;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-hook-'));
    bin = join(dir, 'bin');
    conf = join(dir, 'etc/kvc');
    for (const sub of [bin, conf, join(dir, 'postinst.d'), join(dir, 'postrm.d')]) mkdirSync(sub, { recursive: true });
    for (const name of ['systemctl', 'kvc', 'logger']) {
      writeFileSync(join(bin, name), FAKE);
      chmodSync(join(bin, name), 0o755);
    }
    copyFileSync(HOOK, join(dir, 'postinst.d/kvc'));
    copyFileSync(HOOK, join(dir, 'postrm.d/kvc'));
    writeFileSync(join(conf, 'kvc.conf'), 'KVC_CONTAINER_RUNTIME=podman\n');
    writeFileSync(join(conf, 'usbip.conf'), 'KMOD_NAMES=usbip-core\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  // Runs the hook from postinst.d or postrm.d as the kernel package does (sh HOOK KVER IMAGE).
  const run = (which = 'postinst.d', env = {}, path = `${bin}:/usr/bin:/bin`) => {
    const result = spawnSync('sh', [join(dir, which, 'kvc'), KVER, `/boot/vmlinuz-${KVER}`], {
      encoding: 'utf8', env: { PATH: path, FAKE_DIR: bin, KVC_CONFIG_DIR: conf, ...env },
    });
    const calls = existsSync(join(bin, 'calls.log')) ? readFileSync(join(bin, 'calls.log'), 'utf8').trimEnd().split('\n') : [];
    return { status: result.status, stderr: result.stderr, calls };
  };
  const answer = (name, arg, status, out) => {
    writeFileSync(join(bin, `${name}.${arg}.status`), String(status));
    if (out !== undefined) writeFileSync(join(bin, `${name}.${arg}.out`), out);
  };

  it('a running service is told with systemctl reload (not waiting for the job), and the notice goes to the journal', () => {
    answer('systemctl', 'is-active', 0, 'active\n');
    const { status, stderr, calls } = run();
    expect(status).to.equal(0);
    expect(calls).to.include('systemctl --no-block reload kvc@usbip.service');
    expect(calls.filter((c) => c.startsWith('kvc '))).to.deep.equal([]);
    expect(stderr).to.include(`kvc kernel hook: kernel ${KVER} installed: told kvc@usbip.service (systemctl reload)`);
    expect(calls).to.include(`logger -t kvc-kernel-hook -- kernel ${KVER} installed: told kvc@usbip.service (systemctl reload)`);
  });

  it('a service that is not running, enabled, with KVC_BUILD_ON_KERNEL_INSTALL=yes: kvc build NAME KVER, synchronously', () => {
    writeFileSync(join(conf, 'kvc.conf'), 'KVC_CONTAINER_RUNTIME=podman\nKVC_BUILD_ON_KERNEL_INSTALL=no\nexport KVC_BUILD_ON_KERNEL_INSTALL="yes"  # build here\n');
    answer('systemctl', 'is-active', 3, 'inactive\n');
    const { status, stderr, calls } = run();
    expect(status).to.equal(0);
    expect(calls).to.include(`kvc build usbip ${KVER}`);
    expect(calls.some((c) => c.includes('reload'))).to.equal(false);
    expect(stderr).to.include('built the usbip image');
  });

  it('without the setting (or =no), nothing is built; an enabled service is said to build at its start', () => {
    answer('systemctl', 'is-active', 3, 'inactive\n');
    let { status, stderr, calls } = run();
    expect(status).to.equal(0);
    expect(calls.filter((c) => c.startsWith('kvc '))).to.deep.equal([]);
    expect(stderr).to.include('kvc@usbip.service is not running; it builds the image when it starts');
    writeFileSync(join(conf, 'kvc.conf'), 'KVC_BUILD_ON_KERNEL_INSTALL=no\n');
    rmSync(join(bin, 'calls.log'));
    ({ status, calls } = run());
    expect(calls.filter((c) => c.startsWith('kvc '))).to.deep.equal([]);
  });

  it('with the setting, an instance whose service is not enabled is not built', () => {
    writeFileSync(join(conf, 'kvc.conf'), 'KVC_BUILD_ON_KERNEL_INSTALL=yes\n');
    answer('systemctl', 'is-active', 3, 'inactive\n');
    answer('systemctl', 'is-enabled', 1);
    const { status, calls } = run();
    expect(status).to.equal(0);
    expect(calls.filter((c) => c.startsWith('kvc '))).to.deep.equal([]);
  });

  it('never fails the kernel package: a failed build, a failed reload, no systemd at all all exit 0 and say why', () => {
    writeFileSync(join(conf, 'kvc.conf'), 'KVC_BUILD_ON_KERNEL_INSTALL=yes\n');
    answer('systemctl', 'is-active', 3, 'inactive\n');
    answer('kvc', 'build', 70, 'kvc: error: the build failed\nhint: see /var/log/kvc/usbip/\n');
    let { status, stderr } = run();
    expect(status).to.equal(0);
    expect(stderr).to.include(`kvc build usbip ${KVER} failed (exit 70): kvc: error: the build failed hint: see /var/log/kvc/usbip/`);
    answer('systemctl', 'is-active', 0, 'active\n');
    answer('systemctl', 'reload', 1);
    ({ status, stderr } = run());
    expect(status).to.equal(0);
    expect(stderr).to.include('could not reload kvc@usbip.service');
    rmSync(join(bin, 'systemctl'));
    ({ status } = run());
    expect(status).to.equal(0);
  });

  it('after a kernel removal a running service is told; a stopped one is left alone; the purge that follows says nothing', () => {
    answer('systemctl', 'is-active', 0, 'active\n');
    let { status, stderr, calls } = run('postrm.d', { DEB_MAINT_PARAMS: 'remove' });
    expect(status).to.equal(0);
    expect(calls).to.include('systemctl --no-block reload kvc@usbip.service');
    expect(stderr).to.include(`kernel ${KVER} removed: told kvc@usbip.service`);
    rmSync(join(bin, 'calls.log'));
    ({ status, stderr, calls } = run('postrm.d', { DEB_MAINT_PARAMS: 'purge' }));
    expect(status).to.equal(0);
    expect(calls).to.deep.equal([]);
    writeFileSync(join(conf, 'kvc.conf'), 'KVC_BUILD_ON_KERNEL_INSTALL=yes\n');
    answer('systemctl', 'is-active', 3, 'inactive\n');
    ({ status, calls } = run('postrm.d', { DEB_MAINT_PARAMS: 'remove' }));
    expect(calls.filter((c) => c.startsWith('kvc ') || c.includes('reload'))).to.deep.equal([]);
  });

  it('kvc removed but its hook left (a conffile until purge): exits 0 and does nothing', () => {
    rmSync(join(bin, 'kvc'));
    answer('systemctl', 'is-active', 0, 'active\n');
    const { status, stderr, calls } = run();
    expect(status).to.equal(0);
    expect(stderr).to.equal('');
    expect(calls).to.deep.equal([]);
  });

  it('no kernel version: says so and exits 0', () => {
    const result = spawnSync('sh', [join(dir, 'postinst.d/kvc')], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, FAKE_DIR: bin, KVC_CONFIG_DIR: conf } });
    expect(result.status).to.equal(0);
    expect(result.stderr).to.include('no kernel version given');
  });
});
