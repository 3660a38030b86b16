// Unit tests: the host command's fast-path record (ops/tool-run-record.ts) on a host with and
// without AppArmor. A fake runtime stands in for podman (only its name and argument prefix are
// read); the host's /sys is a folder of the test's (hostRoot), holding AppArmor's module parameter.
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forgetToolRun, recordToolRun } from '../../../lib/ops/tool-run-record.js';

const KVER = '6.1.0-56-amd64';
const settings = { name: 'usbip', softwareVersion: '1.0.0', hostTools: ['/usr/sbin/usbip'] };
const quiet = { info() {}, warn() {}, verbose() {}, error() {}, debug() {} };

describe('tool-run record under AppArmor', () => {
  let dir;
  let ctx;
  const record = () => join(dir, 'state', 'usbip', 'tool-run', KVER);
  const apparmor = (value) => {
    mkdirSync(join(dir, 'root/sys/module/apparmor/parameters'), { recursive: true });
    writeFileSync(join(dir, 'root/sys/module/apparmor/parameters/enabled'), `${value}\n`);
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-toolrun-'));
    ctx = { hostRoot: join(dir, 'root'), stateDir: join(dir, 'state'), logger: quiet, runtime: { name: 'podman', toolRunPrefix: () => ['run', '--rm', '--read-only'] } };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('without AppArmor, records how to run the tools without kvc', async () => {
    apparmor('N');
    await recordToolRun(ctx, settings, KVER);
    expect(readFileSync(record(), 'utf8')).to.equal(`podman\nlocalhost/usbip-1.0.0:${KVER}\nrun\n--rm\n--read-only\n`);
  });

  it('with AppArmor on, records nothing and forgets an earlier record: the run needs kvc\'s profile, which kvc wrapper loads', async () => {
    apparmor('N');
    await recordToolRun(ctx, settings, KVER);
    expect(existsSync(record())).to.equal(true);
    apparmor('Y');
    await recordToolRun(ctx, settings, KVER);
    expect(existsSync(record())).to.equal(false);
  });

  it('forgetting an image removes its records and leaves a record being written (a hidden temporary) alone', async () => {
    apparmor('N');
    await recordToolRun(ctx, settings, KVER);
    const folder = join(dir, 'state', 'usbip', 'tool-run');
    const writing = join(folder, `.${KVER}-0123456789ab`);
    writeFileSync(writing, readFileSync(record()));
    await forgetToolRun(ctx, 'usbip', `localhost/usbip-1.0.0:${KVER}`);
    expect(existsSync(record())).to.equal(false);
    expect(existsSync(writing)).to.equal(true);
  });
});
