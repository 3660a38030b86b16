// Unit tests: log line formats for the journal, a TTY and plain pipes.
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { formatLine, detectLogStyle, createLogger } from '../../../lib/log/logger.js';

describe('logger', () => {
  it('prefixes journald priorities under systemd', () => {
    expect(formatLine('journal', 'error', 'x')).to.equal('<3>x');
    expect(formatLine('journal', 'warn', 'x')).to.equal('<4>x');
    expect(formatLine('journal', 'info', 'x')).to.equal('<6>x');
    expect(formatLine('journal', 'debug', 'x')).to.equal('<7>x');
  });
  it('writes plain lines without colour to a pipe', () => {
    expect(formatLine('plain', 'error', 'bad')).to.equal('kvc: error: bad');
    expect(formatLine('plain', 'info', 'ok')).to.equal('kvc: ok');
    expect(formatLine('plain', 'warn', 'hm')).to.not.match(/\x1b/);
  });
  it('colours a TTY', () => expect(formatLine('tty', 'error', 'bad')).to.match(/\x1b\[1;31merror:/));
  it('detects the style from JOURNAL_STREAM and the TTY', () => {
    expect(detectLogStyle({ JOURNAL_STREAM: '8:1234' }, false)).to.equal('journal');
    expect(detectLogStyle({}, false)).to.equal('plain');
    expect(detectLogStyle({ JOURNAL_STREAM: '8:1234' }, true)).to.equal('tty');
  });
  it('NO_COLOR and TERM=dumb turn colour off on a TTY', () => {
    expect(detectLogStyle({ NO_COLOR: '1' }, true)).to.equal('plain');
    expect(detectLogStyle({ TERM: 'dumb' }, true)).to.equal('plain');
    expect(detectLogStyle({ NO_COLOR: '' }, true)).to.equal('tty');
  });
  // The attack of the review (issue 25, item 3): a USB product string quoted in a message.
  it('a product string cannot forge a journal line of another priority or drive the terminal', () => {
    const product = 'QEMU\n<0>kernel: EMERGENCY\x1b]0;owned\x07\x9b2J';
    const journal = formatLine('journal', 'info', `export disk-a: ${product}`);
    // Every line carries kvc's own priority first: journald reads only the first <N>.
    expect(journal.split('\n').every((line) => line.startsWith('<6>'))).to.equal(true);
    expect(journal).to.not.match(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    expect(journal).to.include('\\x1b]0;owned\\x07\\x9b2J');
    for (const style of ['tty', 'plain']) expect(formatLine(style, 'info', 'a\x1b]0;t\x07b')).to.equal(style === 'tty' ? 'a\\x1b]0;t\\x07b' : 'kvc: a\\x1b]0;t\\x07b');
  });
  it('hides container commands unless verbose', async () => {
    const lines = async (verbose) => {
      const stream = new PassThrough();
      const chunks = [];
      stream.on('data', (c) => chunks.push(String(c)));
      const logger = createLogger({ verbose, style: 'plain', stream });
      logger.verbose('$ podman build');
      logger.info('done');
      await new Promise((r) => setImmediate(r));
      return chunks.join('');
    };
    expect(await lines(false)).to.equal('kvc: done\n');
    expect(await lines(true)).to.equal('kvc: $ podman build\nkvc: done\n');
  });
});
