// lastSaid: the line of a runtime's stderr kvc quotes in its errors. docker's CLI ends a failed
// start with its own "error waiting for container: context canceled" (seen in the docker guest of
// the end-to-end test, which hid the daemon's reason); the reason before it is what counts.
import { expect } from 'chai';
import { lastSaid } from '../../../lib/runtime/parse.js';

describe('runtime stderr: the last line that says something', () => {
  it('skips the docker CLI\'s "error waiting for container: context canceled" after the reason', () => {
    // What docker.io 20.10 said in the guest without the apparmor package (its Recommends).
    const stderr = [
      'docker: Error response from daemon: AppArmor enabled on system but the docker-default profile could not be loaded: running `apparmor_parser apparmor_parser --version` failed with output: ',
      'error: exec: "apparmor_parser": executable file not found in $PATH.',
      'time="2026-12-04T16:37:28Z" level=error msg="error waiting for container: context canceled"',
      '',
    ].join('\n');
    expect(lastSaid(stderr)).to.equal('error: exec: "apparmor_parser": executable file not found in $PATH.');
  });
  it('is the last non-blank line otherwise, trimmed, and empty for nothing', () => {
    expect(lastSaid('Error: first\n  Error: second  \n\n')).to.equal('Error: second');
    expect(lastSaid('')).to.equal('');
    expect(lastSaid('time="x" level=error msg="error waiting for container: context canceled"')).to.equal('');
  });
});
