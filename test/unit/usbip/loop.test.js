// Unit test of the time limit every call out of the USB/IP loops runs under (issue 25, items 4 and 12).
import { expect } from 'chai';
import { timeLimited, CallTimeoutError, CallStoppedError } from '../../../lib/usbip/loop.js';

const never = () => new Promise(() => {});

describe('usbip loops: timeLimited', () => {
  it('gives the call\'s value or error when it answers in time', async () => {
    const signal = new AbortController().signal;
    expect(await timeLimited('a call', 200, signal, async () => 42)).to.equal(42);
    const failed = await timeLimited('a call', 200, signal, async () => { throw new Error('no'); }).catch((error) => error);
    expect(failed.message).to.equal('no');
  });

  it('rejects with CallTimeoutError when the call does not answer, and aborts the call\'s signal', async () => {
    let given;
    const began = Date.now();
    const error = await timeLimited('usbip list --remote 10.0.0.9', 50, new AbortController().signal, (signal) => { given = signal; return never(); }).catch((caught) => caught);
    expect(Date.now() - began).to.be.lessThan(500);
    expect(error).to.be.instanceOf(CallTimeoutError);
    expect(error.message).to.equal('usbip list --remote 10.0.0.9 gave no answer in 0.05 s');
    expect(given.aborted).to.equal(true);
  });

  it('rejects with CallStoppedError at once when the stop aborts, and aborts the call\'s signal', async () => {
    const stop = new AbortController();
    let given;
    const running = timeLimited('reading vhci_hcd\'s ports', 10_000, stop.signal, (signal) => { given = signal; return never(); });
    setTimeout(() => stop.abort(), 20);
    const began = Date.now();
    const error = await running.catch((caught) => caught);
    expect(Date.now() - began).to.be.lessThan(500);
    expect(error).to.be.instanceOf(CallStoppedError);
    expect(given.aborted).to.equal(true);
  });

  it('does not start a call when the stop came first', async () => {
    const stop = new AbortController();
    stop.abort();
    let started = false;
    const error = await timeLimited('a call', 1000, stop.signal, async () => { started = true; }).catch((caught) => caught);
    expect(error).to.be.instanceOf(CallStoppedError);
    expect(started).to.equal(false);
  });
});
