// Unit tests of what wakes the USB/IP loops: the Waker (a wake while a loop is busy is not lost),
// and the devtmpfs source on a real folder with real inotify (nodes made and removed as the
// kernel makes them under /dev/bus/usb/BBB/DDD; a new bus folder followed).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Waker, FOLLOW_UP_MS } from '../../../lib/usbip/waker.js';
import { devtmpfsUsbEvents } from '../../../lib/usbip/usb-events.js';

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe('usbip waker', () => {
  it('a wait ends on a wake, or at its time', async () => {
    const waker = new Waker();
    const never = new AbortController().signal;
    let began = Date.now();
    setTimeout(() => waker.wake(), 30);
    await waker.wait(waker.generation, 5000, never);
    expect(Date.now() - began).to.be.below(1000);
    began = Date.now();
    await new Waker().wait(0, 60, never);
    expect(Date.now() - began).to.be.at.least(50);
  });
  it('a wake that came while the loop was looking ends its next wait at once', async () => {
    const waker = new Waker();
    const seen = waker.generation;
    waker.wake();
    const began = Date.now();
    await waker.wait(seen, 5000, new AbortController().signal);
    // At once, against the 5 s wait (a bound with room for a loaded machine).
    expect(Date.now() - began).to.be.below(1000);
  });
  it('soon after a wake, the loops look again within FOLLOW_UP_MS', () => {
    const waker = new Waker();
    expect(waker.waitMs(10_000)).to.equal(10_000);
    waker.wake();
    expect(waker.waitMs(10_000)).to.equal(FOLLOW_UP_MS);
  });
});

describe('usbip USB events from devtmpfs (a real folder, real inotify)', () => {
  let dir;
  let stop;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'kvc-devusb-'));
    mkdirSync(join(dir, '001'));
    stop = new AbortController();
  });
  afterEach(() => { stop.abort(); rmSync(dir, { recursive: true, force: true }); });

  it('a node made or removed on a bus is one event (a burst settles into one); a new bus is followed', async () => {
    let events = 0;
    // Waits for the n-th event (on a loaded machine the read may come late), then as long again
    // as before for a split burst or a double report to show.
    const eventsReach = async (n) => {
      for (const start = Date.now(); events < n && Date.now() - start < 5000;) await pause(10);
      await pause(120);
    };
    devtmpfsUsbEvents(dir, 20)(() => { events += 1; }, stop.signal);
    writeFileSync(join(dir, '001/002'), '');
    writeFileSync(join(dir, '001/003'), '');
    await eventsReach(1);
    expect(events).to.equal(1);
    rmSync(join(dir, '001/002'));
    await eventsReach(2);
    expect(events).to.equal(2);
    mkdirSync(join(dir, '002'));
    await eventsReach(3);
    expect(events).to.equal(3);
    writeFileSync(join(dir, '002/001'), '');
    await eventsReach(4);
    expect(events).to.equal(4);
  });
  it('nothing after the stop; a folder that is not there throws (the caller polls instead)', async () => {
    let events = 0;
    devtmpfsUsbEvents(dir, 20)(() => { events += 1; }, stop.signal);
    stop.abort();
    writeFileSync(join(dir, '001/009'), '');
    await pause(100);
    expect(events).to.equal(0);
    expect(() => devtmpfsUsbEvents(join(dir, 'absent'))(() => {}, new AbortController().signal)).to.throw(/ENOENT/);
  });
});
