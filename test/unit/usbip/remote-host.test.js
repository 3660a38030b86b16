// Unit test: the service's name for a server and its attach lock file are the host command
// guard's (host/lib/guards/usbip.sh), computed here by the same shell pipeline the guard runs.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { canonicalHost, lockKey } from '../../../lib/usbip/remote-host.js';

const sh = (script, ...args) => spawnSync('sh', ['-c', script, 'sh', ...args], { encoding: 'utf8' }).stdout;

describe('usbip remote host: the same lock and address as the host command\'s guard', () => {
  for (const [host, busid] of [['10.77.0.1', '1-2'], ['fe80::1', '1-1.3'], ['usb-host.example', '2-4']]) {
    it(`lock file of ${host} ${busid}`, () => {
      const guard = sh("printf '%s_%s' \"$1\" \"$2\" | tr -c 'A-Za-z0-9._-' '_'", host, busid);
      expect(lockKey(host, busid)).to.equal(`${guard}.lock`);
    });
  }

  it('an address is itself (brackets off), a name is getent ahosts\' first address', async () => {
    expect(await canonicalHost('10.77.0.1')).to.equal('10.77.0.1');
    expect(await canonicalHost('[::1]')).to.equal('::1');
    const guard = sh("getent ahosts \"$1\" 2>/dev/null | awk 'NR == 1 { print $1 }'", 'localhost').trim();
    expect(await canonicalHost('localhost')).to.equal(guard === '' ? 'localhost' : guard);
  });
});
