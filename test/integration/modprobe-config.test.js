// Integration test on the real podman: modprobe in kvc's load container reads the host's modprobe
// configuration (options, install lines), not only the image's. The load container is started
// with kvc's own argument builder and mounts, its command replaced by `modprobe --showconfig`;
// the "host" is a made-up root whose /etc/modprobe.d holds the policy (this machine's kernel
// cannot load modules, so what modprobe would do is read from the configuration it shows).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KVER, ensureUsbipImage, podman } from './harness.js';
import { moduleRunArgs } from '../../lib/runtime/args.js';
import { modprobeConfigVolumes } from '../../lib/ops/modprobe-config.js';

const IMAGE = `localhost/usbip-1.0.0:${KVER}`;

describe('the load container honours the host\'s modprobe configuration (real podman)', function () {
  this.timeout(20 * 60 * 1000);
  let root;
  before(() => ensureUsbipImage());
  beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'kvc-host-')); });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('options and install lines of the host\'s /etc/modprobe.d reach modprobe in the image', () => {
    mkdirSync(join(root, 'etc/modprobe.d'), { recursive: true });
    writeFileSync(join(root, 'etc/modprobe.d/policy.conf'), 'options usbcore authorized_default=0\ninstall usb_storage /bin/false\n');
    const shown = podman(moduleRunArgs(IMAGE, ['modprobe', '--showconfig'], modprobeConfigVolumes({ hostRoot: root })));
    expect(shown).to.match(/^options usbcore authorized_default=0$/m);
    expect(shown).to.match(/^install usb_storage \/bin\/false$/m);
  });

  it('with no such folder on the host, the image\'s modprobe shows none of that policy', () => {
    const shown = podman(moduleRunArgs(IMAGE, ['modprobe', '--showconfig'], modprobeConfigVolumes({ hostRoot: root })));
    expect(shown).to.not.match(/authorized_default=0/);
  });
});
