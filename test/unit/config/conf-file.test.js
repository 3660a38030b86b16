// Unit tests: parsing kmods-via-containers style files (pure text in, entries or a ConfigError out).
import { expect } from 'chai';
import { parseConfText } from '../../../lib/config/conf-file.js';
import { ConfigError } from '../../../lib/errors.js';

const parse = (text) => Object.fromEntries([...parseConfText('/etc/kvc/x.conf', text)].map(([k, v]) => [k, v.value]));
const failure = (text) => {
  try {
    parseConfText('/etc/kvc/x.conf', text);
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error;
  }
  throw new Error('expected a ConfigError');
};

describe('conf-file: parsing', () => {
  it('parses the bash KVC simple-kmod instance file unchanged', () => {
    const text = [
      'KMOD_CONTAINER_BUILD_CONTEXT="https://github.com/kmods-via-containers/simple-kmod.git"',
      'KMOD_CONTAINER_BUILD_FILE=Dockerfile.fedora',
      'KMOD_SOFTWARE_VERSION=dd1a7d4',
      'KMOD_NAMES="simple-kmod simple-procfs-kmod"',
    ].join('\n');
    expect(parse(text)).to.deep.equal({
      KMOD_CONTAINER_BUILD_CONTEXT: 'https://github.com/kmods-via-containers/simple-kmod.git',
      KMOD_CONTAINER_BUILD_FILE: 'Dockerfile.fedora',
      KMOD_SOFTWARE_VERSION: 'dd1a7d4',
      KMOD_NAMES: 'simple-kmod simple-procfs-kmod',
    });
  });

  it('accepts comments, blank lines, single quotes, CRLF and a comment after a value', () => {
    const text = '# comment\r\n\r\n  # another\r\nA=plain\r\nB=\'single quoted\'\r\nC="x y" # why\r\nD=unquoted # trailing\r\nexport E=1\r\n';
    expect(parse(text)).to.deep.equal({ A: 'plain', B: 'single quoted', C: 'x y', D: 'unquoted', E: '1' });
  });

  it('reads values as bash does where ini did not: true, # and ; inside a word, backslashes', () => {
    expect(parse('A=true\nB=https://h/r.git#v1.2\nC=\\u002d\nD="a;b"\nE=a\\ b\nF=\'$x\'')).to.deep.equal({
      A: 'true', B: 'https://h/r.git#v1.2', C: 'u002d', D: 'a;b', E: 'a b', F: '$x',
    });
  });

  it('refuses what bash would read differently: spaces around =, a ; line, a second word, an unquoted ;', () => {
    expect(failure('A = 1').message).to.match(/line 1 is not KEY=value/);
    expect(failure('; note').message).to.match(/line 1 is not KEY=value/);
    expect(failure('A=a b').message).to.match(/A: line 1 has more after the value: "b"/);
    expect(failure('A=1 B=2').message).to.match(/has more after the value/);
    expect(failure('A=a;b').message).to.match(/unquoted ;/);
    expect(failure('A=~/x').message).to.match(/unquoted ~/);
    expect(failure('A="a\\').message).to.match(/unbalanced quotes|next line/);
  });

  it('gives an empty string for KEY= and KEY=""', () => {
    expect(parse('A=\nB=""')).to.deep.equal({ A: '', B: '' });
  });

  it('records the line of each key', () => {
    const entries = parseConfText('f', '\n# c\nA=1\n');
    expect(entries.get('A')).to.deep.equal({ value: '1', line: 3 });
  });

  it('refuses a line that is not KEY=value, naming the line', () => {
    const error = failure('A=1\nthis is not a setting\n');
    expect(error.message).to.equal('/etc/kvc/x.conf: line 2 is not KEY=value: "this is not a setting"');
    expect(error.hint).to.match(/KEY=value/);
  });

  it('refuses ini sections, which KVC files never have', () => {
    expect(failure('[section]\nA=1').message).to.match(/line 1 is not KEY=value/);
  });

  it('refuses a key set twice, with both lines', () => {
    const error = failure('KMOD_NAMES=a\nKMOD_NAMES=b\n');
    expect(error.key).to.equal('KMOD_NAMES');
    expect(error.message).to.equal('/etc/kvc/x.conf: KMOD_NAMES: is set twice (lines 1 and 2)');
  });

  it('refuses shell expansion, which kvc does not do', () => {
    expect(failure('A="$(id)"').message).to.match(/does not expand shell variables/);
    expect(failure('A=${HOME}/x').message).to.match(/does not expand/);
    expect(failure('A=`id`').message).to.match(/does not expand/);
  });

  it('refuses unbalanced quotes', () => {
    expect(failure('A="abc').message).to.match(/A: line 1 has unbalanced quotes/);
    expect(failure("A='abc").message).to.match(/unbalanced quotes/);
  });

  it('refuses control characters inside a value', () => {
    expect(failure('A="a\tb"').message).to.match(/control character/);
  });
});
