// Unit tests: log line formats for the journal, a TTY and plain pipes.
import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { formatLine, detectLogStyle, createLogger, colourWanted } from '../../lib/log/logger.js';

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
  it('writes a TTY\'s lines without colour when colour is off', () => {
    for (const level of ['error', 'warn', 'info', 'verbose']) expect(formatLine('tty', level, 'x', false)).to.not.match(/\x1b/);
    expect(formatLine('tty', 'error', 'bad', false)).to.equal('error: bad');
    expect(formatLine('tty', 'warn', 'hm', false)).to.equal('warning: hm');
  });
  it('turns colour off for NO_COLOR (not empty), TERM=dumb and a non-TTY', () => {
    expect(colourWanted({}, true)).to.equal(true);
    expect(colourWanted({ NO_COLOR: '1' }, true)).to.equal(false);
    expect(colourWanted({ NO_COLOR: '' }, true), 'an empty NO_COLOR does not count (no-color.org)').to.equal(true);
    expect(colourWanted({ TERM: 'dumb' }, true)).to.equal(false);
    expect(colourWanted({}, false)).to.equal(false);
  });
  it('detects the style from JOURNAL_STREAM and the TTY', () => {
    expect(detectLogStyle({ JOURNAL_STREAM: '8:1234' }, false)).to.equal('journal');
    expect(detectLogStyle({}, false)).to.equal('plain');
    expect(detectLogStyle({ JOURNAL_STREAM: '8:1234' }, true)).to.equal('tty');
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
