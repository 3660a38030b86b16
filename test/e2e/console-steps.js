// Shared by the end-to-end tests: a guest's serial console (the log run-guest.sh keeps) and the
// tests that read it, one per step the guest must have printed as "KVC-E2E: PASS <step>".
import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';

// The console log's text, without carriage returns; empty when the guest never booted.
export function readConsole(path) {
  return existsSync(path) ? readFileSync(path, 'utf8').replaceAll('\r', '') : '';
}

// A test per step (a PASS line holding its text), then one that the guest saw no FAIL and finished.
// `console` is called when the tests run (the log is written by a before hook).
export function itPassedSteps(console, steps) {
  for (const step of steps) {
    it(step, () => {
      const line = console().split('\n').find((l) => l.startsWith('KVC-E2E: ') && l.includes(step));
      expect(line, `no line for "${step}" on the guest's console`).to.be.a('string');
      expect(line).to.match(/^KVC-E2E: PASS /);
    });
  }
  it('the guest reported no failure and finished', () => {
    const text = console();
    // When it did not, the console's last lines say why (a panic, a root not mounted, a timeout):
    // they go into the failure's message, which is what a CI log keeps.
    const why = `the guest's console ended:\n${consoleTail(text)}`;
    expect(text, why).to.not.match(/^KVC-E2E: FAIL/m);
    expect(text, why).to.match(/^KVC-E2E: DONE pass=\d+ fail=0$/m);
  });
}

// The console's last lines, without terminal escapes, indented: a failure's context.
export function consoleTail(text, lines = 25) {
  const plain = text.replace(/\x1b(\[[0-9;?]*[A-Za-z]|c)/g, '').split('\n').filter((l) => l.trim() !== '');
  return plain.slice(-lines).map((l) => `    | ${l}`).join('\n') || '    (empty: the guest never booted)';
}
