// Unit tests: container argument arrays (pure builders) and parsing of recorded runtime JSON.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import * as args from '../../../lib/runtime/args.js';
import { parseImageInspect, parseContainerInspect, parseIdList, isNoSuchObject, saysNoSpace, dependsOnKernel, isMetadataStep } from '../../../lib/runtime/parse.js';
import { displayArg } from '../../../lib/runtime/command-runner.js';
import { findOnPath } from '../../../lib/host/find-on-path.js';

describe('runtime arguments', () => {
  it('build: read-only volumes for a kernel source folder (podman), refused by docker', () => {
    const spec = { tag: 't', file: 'F', context: '/c', buildArgs: {}, labels: {}, volumes: [args.readOnlyVolume('/src/linux', '/run/kvc-kernel-source')] };
    const argv = args.buildArgs('podman', spec);
    expect(argv.slice(argv.indexOf('--volume'), argv.indexOf('--volume') + 2)).to.deep.equal(['--volume', '/src/linux:/run/kvc-kernel-source:ro']);
    expect(argv.at(-1)).to.equal('/c');
    expect(() => args.buildArgs('docker', spec)).to.throw(/docker cannot mount a host folder into a build/);
    expect(() => args.readOnlyVolume('/src/a:b', '/x')).to.throw(/has a ':'/);
  });

  it('build passes KVER and KMODVER as build args, the labels, the file and the context last', () => {
    expect(args.buildArgs('podman', {
      tag: 'localhost/usbip-1.1.1:6.1.0-56-amd64', file: '/etc/kvc/usbip/Containerfile.debian', context: '/etc/kvc/usbip',
      buildArgs: { KVER: '6.1.0-56-amd64', KMODVER: '1.1.1' }, labels: { 'io.kvc.instance': 'usbip' }, network: 'host',
    })).to.deep.equal([
      'build', '--file', '/etc/kvc/usbip/Containerfile.debian', '--tag', 'localhost/usbip-1.1.1:6.1.0-56-amd64', '--force-rm', '--layers',
      '--build-arg', 'KVER=6.1.0-56-amd64', '--build-arg', 'KMODVER=1.1.1', '--label', 'io.kvc.instance=usbip', '--network=host', '/etc/kvc/usbip',
    ]);
  });

  it('a build step depends on a kernel when it ran with KVER=<that kernel>, not on a kernel whose release only starts alike', () => {
    const history = [
      '|2 KMODVER=1.0.0 KVER=6.1.0-56-amd64 /bin/sh -c apt-get update -qq  && apt-get install -y linux-headers-6.1.0-56-amd64',
      '/bin/sh -c #(nop) ARG KVER',
      '/bin/sh -c apt-get update -qq  && apt-get install -y -qq --no-install-recommends build-essential kmod xz-utils',
    ].join('\n');
    expect(dependsOnKernel(history, '6.1.0-56-amd64')).to.equal(true);
    expect(dependsOnKernel(history, '6.1.0-5')).to.equal(false);
    expect(dependsOnKernel(history.split('\n').slice(1).join('\n'), '6.1.0-56-amd64'), 'the toolchain and ARG steps are shared').to.equal(false);
    expect(dependsOnKernel('|1 KVER=6.12.117+deb12-amd64 /bin/sh -c make', '6.12.117+deb12-amd64')).to.equal(true);
    expect(dependsOnKernel('|1 KVER=6.12.117Xdeb12-amd64 /bin/sh -c make', '6.12.117+deb12-amd64')).to.equal(false);
  });

  it('a step that only set metadata holds no files; RUN and COPY steps do', () => {
    expect(isMetadataStep('/bin/sh -c #(nop) ARG KVER\n/bin/sh -c apt-get install')).to.equal(true);
    expect(isMetadataStep('/bin/sh -c #(nop) WORKDIR /build')).to.equal(true);
    expect(isMetadataStep('/bin/sh -c #(nop) COPY file:abc in /usr/lib/kvc/pre-unload')).to.equal(false);
    expect(isMetadataStep('|1 KVER=6.1.0-56-amd64 /bin/sh -c make\n/bin/sh -c #(nop) ARG KVER')).to.equal(false);
  });

  it('docker builds get no podman-only flags', () => {
    expect(args.buildArgs('docker', { tag: 't', file: 'f', context: 'c', buildArgs: {}, labels: {} })).to.deep.equal(['build', '--file', 'f', '--tag', 't', '--force-rm', 'c']);
  });

  it('loading gets CAP_SYS_MODULE only, no network, never pulls', () => {
    const argv = args.moduleRunArgs('img', ['modprobe', '--all', '--', 'a']);
    expect(argv).to.include.members(['--cap-drop=all', '--cap-add=SYS_MODULE', '--network=none', '--pull=never']);
    expect(argv).to.not.include('--privileged');
    expect(argv.slice(-5)).to.deep.equal(['img', 'modprobe', '--all', '--', 'a']);
  });

  it('a value that looks like an option stays one argument after the image', () => {
    const argv = args.toolRunArgs('img', ['usbip', '--privileged', '-v /:/host'], { tty: false });
    expect(argv.slice(argv.indexOf('img'))).to.deep.equal(['img', 'usbip', '--privileged', '-v /:/host']);
    expect(argv).to.not.include('--tty');
    expect(args.toolRunArgs('img', ['x'], { tty: true })).to.include('--tty');
  });

  it('the tools container runs sleep with no capabilities and a read-only root, labelled with its instance', () => {
    const argv = args.toolsHolderRunArgs('podman', 'img', 'kvc-usbip-tools', 'usbip');
    expect(argv).to.include('--replace');
    expect(args.toolsHolderRunArgs('docker', 'img', 'n', 'usbip')).to.not.include('--replace');
    expect(argv).to.include.members(['--detach', '--cap-drop=all', '--read-only', '--security-opt=no-new-privileges', '--network=host', 'io.kvc.instance=usbip']);
    expect(argv.join(' ')).to.not.include('dst=/dev');
    expect(argv.slice(-3)).to.deep.equal(['img', 'sleep', 'infinity']);
  });

  it('the tools container binds each state folder of the payload\'s tools from the host, after /sys; refuses a path a mount option could misread', () => {
    const argv = args.toolsHolderRunArgs('podman', 'img', 'n', 'usbip', undefined, [{ host: '/run/kvc/usbip/tools-state/run/vhci_hcd', container: '/run/vhci_hcd' }]);
    const at = argv.indexOf('type=bind,src=/run/kvc/usbip/tools-state/run/vhci_hcd,dst=/run/vhci_hcd');
    expect(argv[at - 1]).to.equal('--mount');
    expect(at).to.be.greaterThan(argv.indexOf('type=bind,src=/sys,dst=/sys'));
    expect(at).to.be.lessThan(argv.indexOf('img'));
    for (const bad of [{ host: '/a,dst=/etc', container: '/run/x' }, { host: 'relative', container: '/run/x' }, { host: '/a', container: '/run/x\n' }]) {
      expect(() => args.toolsHolderRunArgs('podman', 'img', 'n', 'usbip', undefined, [bad]), JSON.stringify(bad)).to.throw(/only absolute paths without ','/);
    }
  });

  it('on docker, whose --read-only leaves no writable /run (podman\'s mounts tmpfs there), every tool\'s container gets tmpfs on /run, /tmp and /var/tmp; on podman none is asked for', () => {
    const scratch = ['--tmpfs=/run', '--tmpfs=/tmp', '--tmpfs=/var/tmp'];
    const spec = { image: 'img', containerName: 'kvc-usbip-usbipd', instance: 'usbip', role: 'usbipd', command: ['/usr/sbin/usbipd'], writable: [] };
    for (const argv of [args.toolsHolderRunArgs('docker', 'img', 'n', 'usbip'), args.toolRunArgs('img', ['usbip'], { tty: false, runtime: 'docker' }), args.daemonRunArgs('docker', spec)]) {
      expect(argv).to.include.members(['--read-only', ...scratch]);
      expect(argv.indexOf('--tmpfs=/run')).to.be.lessThan(argv.indexOf('img'));
    }
    for (const argv of [args.toolsHolderRunArgs('podman', 'img', 'n', 'usbip'), args.toolRunArgs('img', ['usbip'], { tty: false }), args.daemonRunArgs('podman', spec)]) {
      expect(argv.filter((arg) => arg.startsWith('--tmpfs'))).to.deep.equal([]);
    }
  });

  it('a tool runs in the tools container with exec (stdin only when asked, a TTY when the caller has one)', () => {
    expect(args.toolExecArgs('kvc-usbip-tools', ['/usr/sbin/usbip', 'port'], { tty: false, interactive: false })).to.deep.equal(['exec', 'kvc-usbip-tools', '/usr/sbin/usbip', 'port']);
    expect(args.toolExecArgs('c', ['x', '--privileged'], { tty: true, interactive: true })).to.deep.equal(['exec', '--interactive', '--tty', 'c', 'x', '--privileged']);
  });

  it('a daemon (usbipd) runs in its own container: no capabilities, read-only root and /sys, only the named /sys folders writable', () => {
    const spec = { image: 'img', containerName: 'kvc-usbip-usbipd', instance: 'usbip', role: 'usbipd', command: ['/usr/sbin/usbipd'], writable: ['/sys/devices/pci0000:00/0000:00:04.0/usb1'] };
    const argv = args.daemonRunArgs('podman', spec);
    expect(argv).to.include.members(['--rm', '--replace', '--read-only', '--cap-drop=all', '--security-opt=no-new-privileges', '--network=host', 'io.kvc.role=usbipd']);
    expect(argv).to.not.include('--privileged');
    expect(argv.filter((arg) => arg.startsWith('type=bind'))).to.deep.equal(['type=bind,src=/sys/devices/pci0000:00/0000:00:04.0/usb1,dst=/sys/devices/pci0000:00/0000:00:04.0/usb1']);
    expect(argv.slice(-2)).to.deep.equal(['img', '/usr/sbin/usbipd']);
    expect(() => args.daemonRunArgs('podman', { ...spec, writable: ['/dev'] })).to.throw(/only folders under \/sys/);
    expect(() => args.daemonRunArgs('podman', { ...spec, writable: ['/sys/a,src=/,dst=/x'] })).to.throw(/only folders under \/sys/);
  });

  it('docker and podman remove containers differently', () => {
    expect(args.containerRemoveArgs('podman', 'c')).to.deep.equal(['rm', '--force', '--time=0', 'c']);
    expect(args.containerRemoveArgs('docker', 'c')).to.deep.equal(['rm', '--force', 'c']);
  });

  it('quotes arguments for display only', () => {
    expect(displayArg('KVER=6.1')).to.equal('KVER=6.1');
    expect(displayArg("it's")).to.equal(`'it'\\''s'`);
  });

  it('finds executables on PATH', () => {
    expect(findOnPath('sh', '/nonexistent:/bin:/usr/bin')).to.match(/\/sh$/);
    expect(findOnPath('kvc-no-such-tool', '/bin:/usr/bin')).to.equal(undefined);
  });
});

describe('runtime JSON', () => {
  it('parses recorded `podman image inspect` output', () => {
    const [image] = parseImageInspect(readFileSync(new URL('../../fixtures/podman-image-inspect.json', import.meta.url), 'utf8'));
    expect(image.id).to.match(/^[0-9a-f]{64}$/);
    expect(image.names[0]).to.match(/^localhost\//);
    expect(image.labels['io.kvc.instance']).to.equal('usbip');
    expect(image.size).to.be.greaterThan(0);
  });
  it('parses recorded `podman container inspect` output', () => {
    const [container] = parseContainerInspect(readFileSync(new URL('../../fixtures/podman-container-inspect.json', import.meta.url), 'utf8'));
    expect(container.running).to.equal(true);
    expect(container.pid).to.be.greaterThan(1);
  });
  it('keeps only checked fields of odd JSON', () => {
    expect(parseImageInspect('[{"Id": 5, "RepoTags": [1, "a"], "Labels": {"x": 1, "y": "z"}}]')).to.deep.equal([{ id: '', names: ['a'], labels: { y: 'z' }, created: '', size: 0, parent: '', steps: [] }]);
    expect(() => parseImageInspect('{"not": "an array"}')).to.throw(/not a JSON array/);
    expect(() => parseImageInspect('garbage')).to.throw(/not JSON/);
  });
  it('lists IDs once each', () => expect(parseIdList('sha256:aa\nbb\n\naa\n')).to.deep.equal(['aa', 'bb']));
  it('tells "no such image" from a broken runtime', () => {
    expect(isNoSuchObject('Error: localhost/x:y: image not known')).to.equal(true);
    expect(isNoSuchObject('Error: No such image: x')).to.equal(true);
    expect(isNoSuchObject('Error: cannot connect to Podman socket')).to.equal(false);
  });
  it('tells a full disk from other failures, in apt\'s words and in podman\'s', () => {
    expect(saysNoSpace('E: Failed to fetch http://deb.debian.org/debian/dists/bookworm/main/i18n/Translation-en  Write error - write (28: No space left on device)')).to.equal(true);
    expect(saysNoSpace('Error: committing container for step: copying layers: write /var/lib/containers/storage/x: no space left on device')).to.equal(true);
    expect(saysNoSpace('Error: building at STEP "RUN apt-get update": while running runtime: exit status 100')).to.equal(false);
  });
});
