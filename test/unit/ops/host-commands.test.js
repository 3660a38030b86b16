// Unit tests: the host commands kvc writes for an instance's tools (real files in a temporary
// folder), and that they are the scripts make install writes from host/bin/host-command.in.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { hostCommandScript, writeHostCommands } from '../../../lib/ops/host-commands.js';
import { instanceSettingsFrom } from '../../../lib/config/settings.js';
import { parseConfText } from '../../../lib/config/conf-file.js';
import { createLogger } from '../../../lib/log/logger.js';

const ROOT = new URL('../../..', import.meta.url).pathname;
const logger = createLogger({ style: 'plain', stream: new PassThrough() });

describe('host commands (KVC_HOST_TOOLS)', () => {
  let dir;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'kvc-hostcmd-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('kvc writes the same script as make install (sed of host/bin/host-command.in)', () => {
    const made = execFileSync('sed', ['s|@LIBDIR@|/usr/local/lib/kvc|g; s|@INSTANCE@|usbip|g; s|@PATH@|/usr/sbin/usbipd|g; s|@TOOL@|usbipd|g', join(ROOT, 'host/bin/host-command.in')], { encoding: 'utf8' });
    expect(hostCommandScript('/usr/local/lib/kvc', 'usbip', '/usr/sbin/usbipd')).to.equal(made);
  });

  // Issue 25, item 6 (failed before: writeFileSync and chmodSync followed the planted link, and the
  // victim, a root 0600 file, was overwritten and made 0755).
  it('a link planted at the temporary name is not written through; a folder others may write is refused', () => {
    const settings = { name: 'hello', confPath: '/etc/kvc/hello.conf', hostTools: ['/usr/local/bin/hello'] };
    writeFileSync(join(dir, 'kvc-tool'), '');
    const victim = join(dir, 'victim');
    writeFileSync(victim, 'secret\n', { mode: 0o600 });
    symlinkSync(victim, join(dir, 'hello.kvc-new'));
    writeHostCommands(settings, dir, dir, logger);
    expect(readFileSync(victim, 'utf8')).to.equal('secret\n');
    expect(statSync(victim).mode & 0o777).to.equal(0o600);
    expect(statSync(join(dir, 'hello')).mode & 0o777).to.equal(0o755);
    expect(readFileSync(join(dir, 'hello'), 'utf8')).to.include('kvc-tool');
    chmodSync(dir, 0o777);
    expect(() => writeHostCommands(settings, dir, dir, logger)).to.throw(/is writable by others \(mode 777\); kvc runs as root and will not use it/);
  });

  it('writes one executable script per tool, rewrites its own, never replaces a file it did not write', () => {
    const settings = { name: 'hello', confPath: '/etc/kvc/hello.conf', hostTools: ['/usr/local/bin/hello', '/opt/x/hello-ctl'] };
    writeFileSync(join(dir, 'kvc-tool'), '');
    writeHostCommands(settings, dir, dir, logger, { dryRun: true });
    expect(() => statSync(join(dir, 'hello')), '--dry-run writes nothing').to.throw(/ENOENT/);
    writeHostCommands(settings, dir, dir, logger);
    expect(statSync(join(dir, 'hello')).mode & 0o777).to.equal(0o755);
    expect(readFileSync(join(dir, 'hello-ctl'), 'utf8')).to.include(`exec '${dir}/kvc-tool' "$0" 'hello' '/opt/x/hello-ctl' "$@"`);
    writeHostCommands(settings, dir, dir, logger);
    writeFileSync(join(dir, 'hello'), '#!/bin/sh\necho mine\n');
    expect(() => writeHostCommands(settings, dir, dir, logger)).to.throw(/exists and kvc did not write it; not replacing it/);
    expect(readFileSync(join(dir, 'hello'), 'utf8')).to.equal('#!/bin/sh\necho mine\n');
  });

  it('KVC_HOST_TOOLS is validated once, at the edge', () => {
    const conf = (tools) => {
      writeFileSync(join(dir, 'Containerfile'), 'FROM x\n');
      const text = `KMOD_CONTAINER_BUILD_CONTEXT=.\nKMOD_CONTAINER_BUILD_FILE=Containerfile\nKMOD_SOFTWARE_VERSION=1\nKMOD_NAMES=m\nKVC_HOST_TOOLS="${tools}"\n`;
      const path = join(dir, 'hello.conf');
      return () => instanceSettingsFrom('hello', { path, entries: parseConfText(path, text) }, ['usbip']);
    };
    expect(conf('/usr/sbin/usbip /usr/sbin/usbipd')().hostTools).to.deep.equal(['/usr/sbin/usbip', '/usr/sbin/usbipd']);
    expect(conf('usbip')).to.throw(/KVC_HOST_TOOLS: "usbip" is not an absolute path/);
    expect(conf('/usr/sbin/../../bin/sh')).to.throw(/is not an absolute path/);
    expect(conf("/usr/sbin/it's")).to.throw(/is not an absolute path/);
    expect(conf('/a/usbip /b/usbip')).to.throw(/names two tools called usbip/);
  });
});
