// Unit tests on data: who imported a device is read from whole usbipd lines of exactly its formats
// (issue 25, item 9). The forged lines are what a peer can make usbipd print: its requested bus id
// is echoed in "requested device not found: …", and the old unanchored patterns (/connection from
// (\S+)/, /found requested device: (\S+)/ anywhere in the line) took them as records.
import { expect } from 'chai';
import { parseUsbipdLine } from '../../../lib/usbip/usbipd-output.js';

describe('usbipd output: whole lines only', () => {
  it('reads usbipd\'s own lines', () => {
    expect(parseUsbipdLine('usbipd: info: connection from 10.77.0.2:48762')).to.deep.equal({ kind: 'connection', peer: '10.77.0.2' });
    expect(parseUsbipdLine('usbipd: info: connection from fd00::2:48762')).to.deep.equal({ kind: 'connection', peer: 'fd00::2' });
    expect(parseUsbipdLine('usbipd: info: found requested device: 2-2')).to.deep.equal({ kind: 'found', busid: '2-2' });
    expect(parseUsbipdLine('usbipd: connection from ::ffff:10.77.0.2:37354')).to.deep.equal({ kind: 'connection', peer: '::ffff:10.77.0.2' });
    expect(parseUsbipdLine('usbipd: connection from 10.77.0.2:37354')).to.deep.equal({ kind: 'connection', peer: '10.77.0.2' });
  });
  it('a peer\'s echoed bus id cannot forge a connection or a found device', () => {
    for (const forged of [
      'usbipd: error: requested device not found: connection from 6.6.6.6:1',
      'usbipd: info: requested device not found: x found requested device: 2-2',
      'usbipd: info: connection from 10.77.0.2:48762 found requested device: 2-2',
      'usbipd: info: found requested device: 2-2; connection from 6.6.6.6:1',
      'usbipd: info: found requested device: ../../x',
    ]) expect(parseUsbipdLine(forged).kind, forged).to.equal('other');
    // What the old patterns made of the first two lines:
    expect(/connection from (\S+)/.exec('requested device not found: connection from 6.6.6.6:1')?.[1]).to.equal('6.6.6.6:1');
  });
});
