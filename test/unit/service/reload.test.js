// Unit tests: `systemctl reload kvc@<name>` (SIGHUP, the unit's ExecReload=) makes the service plan
// again, and a SIGHUP before the reconciler runs neither kills it (Node's default) nor is lost
// silently. A real process gets a real signal; the reconciler is a recording stand-in.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onReload } from '../../../lib/service/reload.js';
import { createLogger } from '../../../lib/log/logger.js';
import { globalSettingsFrom } from '../../../lib/config/settings.js';
import { parseConfText } from '../../../lib/config/conf-file.js';
import { ConfigError } from '../../../lib/errors.js';

const LIB = resolve(dirname(fileURLToPath(import.meta.url)), '../../../lib');

describe('service: reload (SIGHUP) plans again', () => {
  it('asks the reconciler for a pass once it runs; before that only says so; the remover uninstalls it', () => {
    const source = new EventEmitter();
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk) => { text += chunk; });
    const logger = createLogger({ style: 'plain', stream: out });
    const requests = [];
    let reconciler;
    const remove = onReload(source, logger, () => reconciler);
    source.emit('SIGHUP');
    expect(requests).to.deep.equal([]);
    expect(text).to.include('the start is not done');
    reconciler = { request: (why, kver) => requests.push([why, kver]) };
    source.emit('SIGHUP');
    expect(requests).to.deep.equal([['reload requested (SIGHUP)', undefined]]);
    expect(text).to.include('reload (SIGHUP): planning again');
    remove();
    source.emit('SIGHUP');
    expect(requests).to.have.length(1);
  });

  it('a real SIGHUP to a process with the handler: it lives on and the pass is asked for', () => {
    const script = `
      const { onReload } = await import(${JSON.stringify(`${LIB}/service/reload.js`)});
      const { createLogger } = await import(${JSON.stringify(`${LIB}/log/logger.js`)});
      const logger = createLogger({ style: 'plain', stream: process.stderr });
      onReload(process, logger, () => ({ request: (why) => { console.log('request: ' + why); process.exit(0); } }));
      process.kill(process.pid, 'SIGHUP');
      setTimeout(() => { console.log('no request'); process.exit(3); }, 3000);`;
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(result.signal, 'not killed by SIGHUP').to.equal(null);
    expect(result.stdout.trim()).to.equal('request: reload requested (SIGHUP)');
    expect(result.status).to.equal(0);
  });
});

describe('settings: KVC_BUILD_ON_KERNEL_INSTALL (read by the kernel hook)', () => {
  const file = (text) => ({ path: '/etc/kvc/kvc.conf', entries: parseConfText('/etc/kvc/kvc.conf', text) });
  it('is yes or no, default no', () => {
    expect(globalSettingsFrom([]).buildOnKernelInstall).to.equal(false);
    expect(globalSettingsFrom([file('KVC_BUILD_ON_KERNEL_INSTALL=yes')]).buildOnKernelInstall).to.equal(true);
    expect(globalSettingsFrom([file('KVC_BUILD_ON_KERNEL_INSTALL="no"')]).buildOnKernelInstall).to.equal(false);
    expect(globalSettingsFrom([file('KVC_BUILD_ON_KERNEL_INSTALL=yes')]).warnings).to.deep.equal([]);
  });
  it('refuses anything else, naming the file and the key', () => {
    expect(() => globalSettingsFrom([file('KVC_BUILD_ON_KERNEL_INSTALL=true')])).to.throw(ConfigError, '/etc/kvc/kvc.conf: KVC_BUILD_ON_KERNEL_INSTALL: must be yes or no, not "true"');
  });
});
