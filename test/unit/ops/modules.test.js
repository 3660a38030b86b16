// Unit tests: load and unload as operations. This kernel cannot load modules, so the kernel and
// the container runtime are a fake here, and say so: a folder laid out as /sys/module that a
// fake runtime's `modprobe` and `rmmod` change, refusing modules it is told to refuse. The real
// thing is tested in the end-to-end guest.
import { expect } from 'chai';
import { chmodSync, symlinkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { loadModules, unloadModules } from '../../../lib/ops/modules.js';
import { ImageMissingError, ImageNotFoundError, ModuleInUseError, ModuleLoadError, KernelRefusedError, RuntimeError, UsageError } from '../../../lib/errors.js';
import { createLogger } from '../../../lib/log/logger.js';
import { DryRunRuntime } from '../../../lib/runtime/dry-run-runtime.js';
import { dryRunHostWrites } from '../../../lib/host/host-writes.js';

const KVER = '6.1.0-56-amd64';
const settings = { name: 'usbip', confPath: '/etc/kvc/usbip.conf', softwareVersion: '1.0.0', modules: ['usbip-core', 'usbip-host', 'vhci-hcd'], kernelRequires: [], buildArgs: {}, warnings: [] };

// The image's files as `tail -n +1 --` and `modinfo` in it would print them.
const USBIP_DEP = 'extra/usbip-core.ko:\nextra/usbip-host.ko: extra/usbip-core.ko\nextra/vhci-hcd.ko: extra/usbip-core.ko\n';

// Makes the fake's modprobe --all load in order and stop at the first module the kernel refuses,
// with errorFor(name); rmmod makes modules vanish.
function modprobeStopsAtRefused(runtime, errorFor) {
  runtime.runModuleCommand = async function (image, command) {
    this.commands.push(command.join(' '));
    if (command[0] === 'modprobe') {
      for (const name of command.slice(3)) {
        if (this.refuse.includes(name)) throw errorFor(name);
        this.appear(name);
      }
    } else {
      for (const name of command.slice(2)) this.vanish(name);
    }
    return { exitCode: 0, stdout: '', stderr: '' };
  };
}

class FakeKernelRuntime {
  constructor(root, { refuse = [], imagePresent = true, modulesDep = USBIP_DEP, modinfo = '', loadAlso } = {}) {
    this.root = root;
    this.refuse = refuse;
    this.imagePresent = imagePresent;
    this.name = 'podman';
    this.dryRun = false;
    this.commands = [];
    this.modulesDep = modulesDep;
    this.modinfo = modinfo;
    this.loadAlso = loadAlso;
  }
  // What READ_MODULES_SCRIPT prints: the image's files, each under its header, then modinfo.
  async probe(image, command) {
    // As the real runtime adapter does with podman's exit 125 "image not known".
    if (!this.imagePresent) throw new ImageNotFoundError(`there is no image ${image}`, { command: ['podman', 'run'], childExitCode: 125, stderrTail: 'image not known' });
    const sections = [`==> /lib/modules/${KVER}/modules.dep <==\n${this.modulesDep}`];
    if (this.loadAlso !== undefined) sections.push(`==> /usr/lib/kvc/load-also <==\n${this.loadAlso}`);
    sections.push(`==> modinfo <==\n${this.modinfo}`);
    return { exitCode: 0, stdout: sections.join('\n'), stderr: '' };
  }
  // The image's modules.dep: what its modprobe pulls in before a module.
  imageDeps(name) {
    const line = this.modulesDep.split('\n').find((entry) => entry.startsWith(`extra/${name.replaceAll('_', '-')}.ko:`) || entry.startsWith(`extra/${name}.ko:`));
    return line === undefined ? [] : line.split(':')[1].trim().split(/\s+/).filter((dep) => dep !== '').map((dep) => dep.replace(/^extra\//, '').replace(/\.ko$/, '')).reverse();
  }
  sys(module) { return join(this.root, 'sys/module', module.replaceAll('-', '_')); }
  // A module appears in /sys/module and at the top of /proc/modules (the kernel lists newest first).
  appear(module, deps = '-') {
    const name = module.replaceAll('-', '_');
    const proc = join(this.root, 'proc/modules');
    writeFileSync(proc, `${name} 1 0 ${deps} Live 0x0\n${existsSync(proc) ? readFileSync(proc, 'utf8') : ''}`);
    mkdirSync(join(this.sys(name), 'holders'), { recursive: true });
    writeFileSync(join(this.sys(name), 'initstate'), 'live\n');
    writeFileSync(join(this.sys(name), 'refcnt'), '0\n');
  }
  vanish(module) {
    const name = module.replaceAll('-', '_');
    const proc = join(this.root, 'proc/modules');
    writeFileSync(proc, readFileSync(proc, 'utf8').split('\n').filter((line) => line.split(' ')[0] !== name).join('\n'));
    rmSync(this.sys(name), { recursive: true, force: true });
  }
  async inspectImage() { return this.imagePresent ? { id: 'x', names: [], labels: {}, created: '', size: 1 } : undefined; }
  async runModuleCommand(image, command, what, volumes = []) {
    this.commands.push(`${command.join(' ')}${volumes.length > 0 ? ` [${volumes.join(' ')}]` : ''}`);
    const [tool, ...rest] = command;
    const fromHost = rest.includes('--dirname');
    const names = rest.filter((arg, index) => !arg.startsWith('-') && rest[index - 1] !== '--dirname');
    for (const name of names) {
      if (tool === 'modprobe') {
        if (this.refuse.includes(name)) {
          const error = new Error(`modprobe: ERROR: could not insert '${name.replaceAll('-', '_')}': Invalid argument`);
          throw error;
        }
        for (const dep of fromHost ? [] : this.imageDeps(name)) if (!existsSync(this.sys(dep))) this.appear(dep);
        if (!existsSync(this.sys(name))) this.appear(name);
      } else if (tool === 'rmmod') {
        this.vanish(name);
      }
    }
    return { exitCode: 0, stdout: '', stderr: '' };
  }
  async runHook(image, command) { this.commands.push(`hook ${command.join(' ')}`); return { exitCode: 0, stdout: 'detached vhci port 0', stderr: '' }; }
  async startToolsHolder() { this.commands.push('start tools'); return { id: 'c', pid: process.pid, running: true }; }
  async removeContainer() { this.commands.push('remove tools'); }
}

// A made-up host root (its /sys/module and /proc/modules, given first lines) for each test, and
// the context kvc runs in there, its log collected.
function fakeHost(prefix, procModules) {
  const host = { root: '', logged: [] };
  beforeEach(() => {
    host.root = mkdtempSync(join(tmpdir(), prefix));
    mkdirSync(join(host.root, 'sys/module'), { recursive: true });
    mkdirSync(join(host.root, 'proc'));
    writeFileSync(join(host.root, 'proc/modules'), procModules);
    host.logged = [];
  });
  afterEach(() => rmSync(host.root, { recursive: true, force: true }));
  host.context = (runtime) => {
    const stream = new PassThrough();
    stream.on('data', (chunk) => host.logged.push(String(chunk)));
    return { configDir: '/etc/kvc', runtime, logger: createLogger({ style: 'plain', stream }), hostRoot: host.root, runDir: join(host.root, 'run'), keys: { keyDir: join(host.root, 'keys'), dkmsDir: join(host.root, 'dkms') }, runningKernel: KVER, interactive: false };
  };
  return host;
}

describe('load and unload (fake kernel and runtime: this kernel cannot load modules)', () => {
  const host = fakeHost('kvc-fake-kernel-', '');

  it('loads the missing modules in order in one modprobe, then starts the tools container', async () => {
    const runtime = new FakeKernelRuntime(host.root);
    mkdirSync(join(host.root, 'sys/module/usbip_core'));
    writeFileSync(join(host.root, 'sys/module/usbip_core/initstate'), 'live');
    const outcome = await loadModules(host.context(runtime), settings, KVER);
    expect(outcome).to.deep.equal({ changed: ['usbip-host', 'vhci-hcd'], skipped: ['usbip-core'] });
    expect(runtime.commands).to.deep.equal(['modprobe --all -- usbip-host vhci-hcd', 'start tools']);
    expect(host.logged.join('')).to.contain('usbip-core: already loaded, skipped');
  });

  it('--dry-run (the dry-run adapters around the fake): the image is looked at, the modprobe printed, nothing loaded, checked or recorded', async () => {
    const fake = new FakeKernelRuntime(host.root);
    const printed = [];
    const ctx = { ...host.context(new DryRunRuntime(fake, (line) => printed.push(line))), host: dryRunHostWrites((line) => printed.push(line)) };
    const outcome = await loadModules(ctx, settings, KVER);
    expect(outcome.changed).to.deep.equal(['usbip-core', 'usbip-host', 'vhci-hcd']);
    expect(fake.commands, 'no module command and no tools container reached the runtime').to.deep.equal([]);
    expect(printed[0]).to.match(/^podman --events-backend=none run .* modprobe --all -- usbip-core usbip-host vhci-hcd$/);
    expect(printed.slice(1).join('\n')).to.match(/would remove .*tools/).and.match(/run .*kvc-usbip-tools/);
    expect(existsSync(join(host.root, 'sys/module/usbip_core'))).to.equal(false);
    expect(existsSync(join(host.root, 'run')), 'no load record, no tools record').to.equal(false);
    expect(host.logged.join('')).to.contain('dry run: would load usbip-core, usbip-host, vhci-hcd into 6.1.0-56-amd64 with the commands above; nothing was loaded');
  });

  it('a module the kernel refuses: what this call loaded is unloaded again, and the error names it', async () => {
    const runtime = new FakeKernelRuntime(host.root, { refuse: ['vhci-hcd'] });
    modprobeStopsAtRefused(runtime, (name) => new Error(`modprobe: ERROR: could not insert '${name}': Invalid argument`));
    const error = await loadModules(host.context(runtime), settings, KVER).catch((e) => e);
    expect(error).to.be.instanceOf(ModuleLoadError);
    expect(error.message).to.match(/^loading vhci-hcd into 6\.1\.0-56-amd64 failed: modprobe: ERROR: could not insert 'vhci-hcd': Invalid argument/);
    expect(error.hint).to.match(/nothing this command loaded was left loaded/);
    expect(runtime.commands).to.deep.equal(['modprobe --all -- usbip-core usbip-host vhci-hcd', 'rmmod -- usbip_host usbip_core']);
    for (const module of ['usbip_core', 'usbip_host', 'vhci_hcd']) expect(existsSync(join(host.root, 'sys/module', module)), module).to.equal(false);
  });

  it('a failed load also unloads the dependencies modprobe pulled in, and nothing another program loaded meanwhile', async () => {
    writeFileSync(join(host.root, 'proc/modules'), 'ext4 1 0 - Live 0x0\n');
    // An image that carries usbcore (its modules.dep says so), as images of older kvc versions did.
    const modulesDep = 'kernel/drivers/usb/common/usb-common.ko:\nkernel/drivers/usb/core/usbcore.ko: kernel/drivers/usb/common/usb-common.ko\n'
      + 'extra/usbip-core.ko:\nextra/usbip-host.ko: extra/usbip-core.ko kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko\n'
      + 'extra/vhci-hcd.ko: extra/usbip-core.ko kernel/drivers/usb/core/usbcore.ko kernel/drivers/usb/common/usb-common.ko\n';
    const runtime = new FakeKernelRuntime(host.root, { refuse: ['vhci-hcd'], modulesDep });
    const proc = join(host.root, 'proc/modules');
    runtime.runModuleCommand = async function (image, command) {
      this.commands.push(command.join(' '));
      if (command[0] === 'modprobe') {
        // modprobe resolves dependencies: usb-common and usbcore come in before usbip-host; podman's
        // overlay module comes in meanwhile (another program's load).
        this.appear('usbip_core');
        this.appear('overlay');
        this.appear('usb_common');
        this.appear('usbcore', 'usb_common,');
        this.appear('usbip_host', 'usbip_core,usbcore,');
        throw new Error("modprobe: ERROR: could not insert 'vhci_hcd': Invalid argument");
      }
      for (const name of command.slice(2)) this.vanish(name);
      return { exitCode: 0, stdout: '', stderr: '' };
    };
    const error = await loadModules(host.context(runtime), settings, KVER).catch((e) => e);
    expect(error).to.be.instanceOf(ModuleLoadError);
    expect(runtime.commands[1]).to.equal('rmmod -- usbip_host usbcore usb_common usbip_core');
    expect(readFileSync(proc, 'utf8').trim().split('\n').map((line) => line.split(' ')[0])).to.deep.equal(['overlay', 'ext4']);
    expect(error.hint).to.match(/nothing this command loaded was left loaded/);
  });

  it('refuses to load into a kernel that is not running, or without an image', async () => {
    expect(await loadModules(host.context(new FakeKernelRuntime(host.root)), settings, '6.1.0-1-amd64').catch((e) => e)).to.be.instanceOf(UsageError).and.include({ exitStatus: 64 });
    const error = await loadModules(host.context(new FakeKernelRuntime(host.root, { imagePresent: false })), settings, KVER).catch((e) => e);
    expect(error).to.be.instanceOf(ImageMissingError);
    expect(error.exitStatus).to.equal(66);
    expect(error.hint).to.equal(`build it first: kvc build usbip ${KVER}`);
  });

  it('the service\'s start (no image inspect first): the image\'s absence, said by its first container, is ImageMissingError and nothing runs after it', async () => {
    const runtime = new FakeKernelRuntime(host.root, { imagePresent: false });
    const error = await loadModules(host.context(runtime), settings, KVER, { tryImage: true }).catch((e) => e);
    expect(error).to.be.instanceOf(ImageMissingError);
    expect(error.message).to.equal(`localhost/usbip-1.0.0:${KVER} does not exist`);
    expect(runtime.commands).to.deep.equal([]);
  });

  it('the load container gets the host\'s modprobe configuration, read-only at its own place, once per real folder', async () => {
    mkdirSync(join(host.root, 'etc/modprobe.d'), { recursive: true });
    mkdirSync(join(host.root, 'usr/lib/modprobe.d'), { recursive: true });
    symlinkSync('usr/lib', join(host.root, 'lib'));
    const runtime = new FakeKernelRuntime(host.root);
    await loadModules(host.context(runtime), settings, KVER);
    const real = (dir) => realpathSync(join(host.root, dir));
    expect(runtime.commands[0]).to.equal(`modprobe --all -- usbip-core usbip-host vhci-hcd [${real('etc/modprobe.d')}:/etc/modprobe.d:ro ${real('usr/lib/modprobe.d')}:/usr/lib/modprobe.d:ro]`);
  });

  it('modules someone else loaded: the service\'s load skips them, and its unload leaves them loaded (an empty record is not "no record")', async () => {
    const runtime = new FakeKernelRuntime(host.root);
    for (const module of ['usbip_core', 'usbip_host', 'vhci_hcd']) runtime.appear(module);
    const outcome = await loadModules(host.context(runtime), settings, KVER);
    expect(outcome.changed).to.deep.equal([]);
    runtime.commands = [];
    const unloaded = await unloadModules(host.context(runtime), settings, KVER);
    expect(unloaded.changed).to.deep.equal([]);
    expect(runtime.commands.filter((command) => command.startsWith('rmmod') || command.startsWith('hook'))).to.deep.equal([]);
    for (const module of ['usbip_core', 'usbip_host', 'vhci_hcd']) expect(existsSync(join(host.root, 'sys/module', module)), module).to.equal(true);
    expect(host.logged.join('')).to.include('vhci-hcd: loaded, but not by kvc: left loaded');
  });

  it('a record kvc cannot trust (not 0600, or naming what is no module) is not believed', async () => {
    const runtime = new FakeKernelRuntime(host.root);
    await loadModules(host.context(runtime), settings, KVER);
    const path = join(host.root, 'run/usbip/loaded.json');
    chmodSync(path, 0o644);
    runtime.commands = [];
    await unloadModules(host.context(runtime), settings, KVER);
    expect(host.logged.join('')).to.include('no record of a kvc load of usbip');
    await loadModules(host.context(runtime), settings, KVER);
    writeFileSync(path, JSON.stringify({ kver: KVER, modules: ['vhci_hcd', '../../etc'] }), { mode: 0o600 });
    host.logged.length = 0;
    await unloadModules(host.context(runtime), settings, KVER);
    expect(host.logged.join('')).to.include('no record of a kvc load of usbip');
    expect(runtime.commands.some((command) => command.includes('../'))).to.equal(false);
  });

  it('unload runs the pre-unload hook, stops the tools container and unloads in reverse order', async () => {
    const runtime = new FakeKernelRuntime(host.root);
    await loadModules(host.context(runtime), settings, KVER);
    runtime.commands = [];
    const outcome = await unloadModules(host.context(runtime), settings, KVER);
    expect(outcome.changed).to.deep.equal(['vhci-hcd', 'usbip-host', 'usbip-core']);
    expect(runtime.commands).to.deep.equal(['hook /usr/lib/kvc/pre-unload', 'remove tools', 'rmmod -- vhci_hcd usbip_host usbip_core']);
    expect(host.logged.join('')).to.contain('pre-unload: detached vhci port 0');
  });

  it('unload refuses a module in use, saying what holds it, unless forced', async () => {
    const runtime = new FakeKernelRuntime(host.root);
    await loadModules(host.context(runtime), settings, KVER);
    writeFileSync(join(host.root, 'sys/module/vhci_hcd/refcnt'), '1\n');
    runtime.commands = [];
    const error = await unloadModules(host.context(runtime), settings, KVER).catch((e) => e);
    expect(error).to.be.instanceOf(ModuleInUseError);
    expect(error.message).to.equal('vhci-hcd is in use: 1 other reference (a device, file or process using it)');
    expect(error.hint).to.match(/or pass --force$/);
    // Refused before anything ran: the pre-unload hook (which detaches every vhci port) was not run.
    expect(runtime.commands).to.deep.equal([]);
    expect(existsSync(join(host.root, 'sys/module/vhci_hcd'))).to.equal(true);
    await unloadModules(host.context(runtime), settings, KVER, { force: true });
    expect(existsSync(join(host.root, 'sys/module/vhci_hcd'))).to.equal(false);
  });

  it('unload of modules not loaded does nothing and says so', async () => {
    const runtime = new FakeKernelRuntime(host.root);
    const outcome = await unloadModules(host.context(runtime), settings, KVER);
    expect(outcome.changed).to.deep.equal([]);
    expect(runtime.commands).to.deep.equal(['remove tools']);
  });
});

// A cloud kernel (no USB): the image brings the USB core and usb-storage/uas; scsi_mod,
// scsi_common and sd_mod are the host tree's own. Fake kernel and runtime as above.
const CLOUD_DEP = [
  'extra/usb-common.ko:', 'extra/usbcore.ko: extra/usb-common.ko', 'extra/usbip-core.ko: extra/usb-common.ko',
  'extra/usbip-host.ko: extra/usbcore.ko extra/usbip-core.ko extra/usb-common.ko', 'extra/vhci-hcd.ko: extra/usbcore.ko extra/usbip-core.ko extra/usb-common.ko',
  'extra/usb-storage.ko: extra/usbcore.ko extra/usb-common.ko', 'extra/uas.ko: extra/usb-storage.ko extra/usbcore.ko extra/usb-common.ko', '',
].join('\n');
const CLOUD_MODINFO = [
  'filename: /lib/modules/x/extra/usb-storage.ko', 'name: usb_storage', 'depends: usbcore,scsi_mod,scsi_common',
  'filename: /lib/modules/x/extra/uas.ko', 'name: uas', 'depends: usbcore,scsi_mod,scsi_common,usb-storage',
  'filename: /lib/modules/x/extra/usbcore.ko', 'name: usbcore', 'depends: usb-common', '',
].join('\n');

describe('load and unload with the host kernel\'s own tree (fake kernel and runtime)', () => {
  const host = fakeHost('kvc-fake-host-', 'ext4 1 0 - Live 0x0\n');
  const hostTree = (dep) => {
    mkdirSync(join(host.root, 'lib/modules', KVER), { recursive: true });
    writeFileSync(join(host.root, 'lib/modules', KVER, 'modules.dep'), dep);
  };

  it('cloud kernel: scsi from the host tree first, the USB core and usbip from the image, sd_mod from the host last; unload takes out exactly those', async () => {
    hostTree('kernel/drivers/scsi/scsi_common.ko:\nkernel/drivers/scsi/scsi_mod.ko: kernel/drivers/scsi/scsi_common.ko\nkernel/drivers/scsi/sd_mod.ko: kernel/drivers/scsi/scsi_mod.ko kernel/drivers/scsi/scsi_common.ko\n');
    const runtime = new FakeKernelRuntime(host.root, { modulesDep: CLOUD_DEP, modinfo: CLOUD_MODINFO, loadAlso: '# comment\nusb-storage\nuas\nsd_mod\n' });
    const outcome = await loadModules(host.context(runtime), settings, KVER);
    const mount = `[${realpathSync(join(host.root, 'lib/modules', KVER))}:/kvc-host/lib/modules/${KVER}:ro]`;
    expect(runtime.commands).to.deep.equal([
      `modprobe --dirname /kvc-host --all -- scsi_mod scsi_common ${mount}`,
      'modprobe --all -- usbip-core usbip-host vhci-hcd usb-storage uas',
      `modprobe --dirname /kvc-host --all -- sd_mod ${mount}`,
      'start tools',
    ]);
    expect(outcome.changed).to.deep.equal(['scsi_mod', 'scsi_common', 'usbip-core', 'usbip-host', 'vhci-hcd', 'usb-storage', 'uas', 'sd_mod']);
    const record = JSON.parse(readFileSync(join(host.root, 'run/usbip/loaded.json'), 'utf8'));
    expect(record.modules).to.deep.equal(['sd_mod', 'uas', 'usb_storage', 'vhci_hcd', 'usbip_host', 'usbcore', 'usbip_core', 'usb_common', 'scsi_common', 'scsi_mod']);
    expect(statSync(join(host.root, 'run/usbip/loaded.json')).mode & 0o777).to.equal(0o600);
    expect(host.logged.join('')).to.include('loaded scsi_mod, scsi_common, usbip-core, usbip-host, vhci-hcd, usb-storage, uas, sd_mod into 6.1.0-56-amd64, with the modules they need: usb_common, usbcore');
    runtime.commands = [];
    await unloadModules(host.context(runtime), settings, KVER);
    expect(runtime.commands.at(-1)).to.equal(`rmmod -- ${record.modules.join(' ')}`);
    expect(readFileSync(join(host.root, 'proc/modules'), 'utf8').trim()).to.equal('ext4 1 0 - Live 0x0');
    expect(existsSync(join(host.root, 'run/usbip/loaded.json'))).to.equal(false);
  });

  it('generic kernel: usbcore is the host tree\'s, the image ships none; a module loaded before is left alone', async () => {
    hostTree('kernel/drivers/usb/common/usb-common.ko:\nkernel/drivers/usb/core/usbcore.ko: kernel/drivers/usb/common/usb-common.ko\n');
    const modinfo = 'filename: /x/extra/usbip-host.ko\nname: usbip_host\ndepends: usbip-core,usbcore\nfilename: /x/extra/vhci-hcd.ko\nname: vhci_hcd\ndepends: usbip-core,usbcore\n';
    const runtime = new FakeKernelRuntime(host.root, { modinfo });
    await loadModules(host.context(runtime), settings, KVER);
    expect(runtime.commands[0]).to.match(/^modprobe --dirname \/kvc-host --all -- usbcore \[/);
    expect(runtime.commands[1]).to.equal('modprobe --all -- usbip-core usbip-host vhci-hcd');
  });

  it('unload leaves a dependency that a module kvc did not load holds (and what it holds), and says so', async () => {
    const runtime = new FakeKernelRuntime(host.root, { modulesDep: CLOUD_DEP, modinfo: CLOUD_MODINFO.replaceAll(',scsi_mod,scsi_common', '') });
    await loadModules(host.context(runtime), settings, KVER);
    runtime.appear('ftdi_sio', 'usbcore,');
    mkdirSync(join(host.root, 'sys/module/usbcore/holders/ftdi_sio'), { recursive: true });
    mkdirSync(join(host.root, 'sys/module/usb_common/holders/usbcore'), { recursive: true });
    runtime.commands = [];
    await unloadModules(host.context(runtime), settings, KVER);
    expect(runtime.commands.at(-1)).to.equal('rmmod -- vhci_hcd usbip_host usbip_core');
    expect(host.logged.join('')).to.contain('left loaded: usbcore is in use: held by module ftdi_sio');
    expect(JSON.parse(readFileSync(join(host.root, 'run/usbip/loaded.json'), 'utf8')).modules).to.deep.equal(['usbcore', 'usb_common']);
  });

  it('refuses, before loading anything, a module neither the image nor the host tree has', async () => {
    hostTree('kernel/fs/ext4/ext4.ko:\n');
    const runtime = new FakeKernelRuntime(host.root, { modulesDep: CLOUD_DEP, modinfo: CLOUD_MODINFO, loadAlso: 'usb-storage\n' });
    const error = await loadModules(host.context(runtime), settings, KVER).catch((e) => e);
    expect(error).to.be.instanceOf(KernelRefusedError);
    expect(error.message).to.match(/needs scsi_mod, scsi_common, which it does not hold, nor does the kernel's own tree/);
    expect(runtime.commands).to.deep.equal([]);
  });

  for (const [what, file, content] of [
    ['module.sig_enforce=1', 'sys/module/module/parameters/sig_enforce', 'Y\n'],
    ['lockdown=integrity', 'sys/kernel/security/lockdown', 'none [integrity] confidentiality\n'],
    ['EFI Secure Boot', 'sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c', Buffer.from([6, 0, 0, 0, 1])],
  ]) {
    it(`refuses to load unsigned modules under ${what}, first, with one line and exit 77`, async () => {
      mkdirSync(join(host.root, file, '..'), { recursive: true });
      writeFileSync(join(host.root, file), content);
      const runtime = new FakeKernelRuntime(host.root);
      const error = await loadModules(host.context(runtime), settings, KVER).catch((e) => e);
      expect(error).to.be.instanceOf(KernelRefusedError);
      expect(error.exitStatus).to.equal(77);
      expect(error.message).to.match(/^kernel 6\.1\.0-56-amd64 would refuse .*'s modules: usbip_core, usbip_host, vhci_hcd are not signed, and .*; nothing was loaded$/);
      expect(error.hint).to.match(/rebuild the image, signed .*kvc build usbip 6\.1\.0-56-amd64 --force/);
      expect(runtime.commands).to.deep.equal([]);
    });
  }

  // The usbip modules as kvc built and signed them (captured modinfo), and /proc/keys of a locked-down
  // host (keyctl is not there: every X.509 key /proc/keys shows counts, membership unknown).
  // (Their depends: on usb-common, which this fake host's tree does not have, are left out.)
  const SIGNED = readFileSync(new URL('../../fixtures/signing/modinfo-kvc-signed.txt', import.meta.url), 'utf8').replace(/^depends:.*$/gm, 'depends:');
  const KVC_KEY_ID = '9b33a8f1bb3faa0c0a55ae5beeb4e5ba11d072a9';
  const lockedDown = (extraKey = '') => {
    mkdirSync(join(host.root, 'sys/kernel/security'), { recursive: true });
    writeFileSync(join(host.root, 'sys/kernel/security/lockdown'), 'none [integrity] confidentiality\n');
    writeFileSync(join(host.root, 'proc/keys'), `${readFileSync(new URL('../../fixtures/signing/proc-keys-secureboot.txt', import.meta.url), 'utf8')}${extraKey}`);
  };

  it('signed by a key the locked-down kernel does not trust: refused first, with the key and "run kvc key enroll and reboot"', async () => {
    lockedDown();
    const runtime = new FakeKernelRuntime(host.root, { modinfo: SIGNED });
    const error = await loadModules(host.context(runtime), settings, KVER).catch((e) => e);
    expect(error).to.be.instanceOf(KernelRefusedError);
    expect(error.message).to.match(/key "CN=kvc module signing key \(vm\)" \(key id 014fabe8bd95f2bfb2727616e246ea0a233f64f2\) is not enrolled, and it is not the key kvc signs with now/);
    expect(runtime.commands).to.deep.equal([]);
  });

  it('signed by a key the kernel trusts (its name and id in /proc/keys): loaded', async () => {
    lockedDown(`0c1b2c3f I------     1 perm 1f010000     0     0 asymmetri kvc module signing key (vm): ${KVC_KEY_ID}: X509.rsa 11d072a9 []\n`);
    const runtime = new FakeKernelRuntime(host.root, { modinfo: SIGNED });
    const outcome = await loadModules(host.context(runtime), settings, KVER);
    expect(outcome.changed).to.deep.equal(['usbip-core', 'usbip-host', 'vhci-hcd']);
  });

  it('a signature the kernel rejects at load time: refused in so many words, what was loaded rolled back', async () => {
    const runtime = new FakeKernelRuntime(host.root, { modinfo: SIGNED });
    runtime.refuse = ['vhci-hcd'];
    modprobeStopsAtRefused(runtime, () => new RuntimeError('loading failed (podman exit 1)', { command: ['podman'], childExitCode: 1, stderrTail: "modprobe: ERROR: could not insert 'vhci_hcd': Key was rejected by service" }));
    const error = await loadModules(host.context(runtime), settings, KVER).catch((e) => e);
    expect(error).to.be.instanceOf(ModuleLoadError);
    expect(error.message).to.match(/^loading vhci-hcd into 6\.1\.0-56-amd64 failed: the kernel rejected its signature \(Key was rejected by service\)/);
    expect(error.hint).to.match(/nothing this command loaded was left loaded; rebuild the image \(kvc build usbip 6\.1\.0-56-amd64 --force\)/);
    expect(runtime.commands).to.deep.equal(['modprobe --all -- usbip-core usbip-host vhci-hcd', 'rmmod -- usbip_host usbip_core']);
  });
});
