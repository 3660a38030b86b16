// Property-based tests (fast-check): no input makes the configuration parser or validator fail
// with anything but a ConfigError, and what parses round-trips.
import { expect } from 'chai';
import fc from 'fast-check';
import { parseConfText } from '../../../lib/config/conf-file.js';
import { instanceSettingsFrom, globalSettingsFrom } from '../../../lib/config/settings.js';
import { ConfigError } from '../../../lib/errors.js';

const onlyConfigErrors = (fn) => {
  try {
    fn();
    return true;
  } catch (error) {
    if (error instanceof ConfigError) return typeof error.message === 'string' && !error.message.includes('\n');
    throw error;
  }
};

const KEYS = ['KMOD_CONTAINER_BUILD_CONTEXT', 'KMOD_CONTAINER_BUILD_FILE', 'KMOD_SOFTWARE_VERSION', 'KMOD_NAMES', 'KMOD_KERNEL_REQUIRES', 'KVC_CONTAINER_RUNTIME', 'KVC_KEEP_KERNELS', 'KVC_BUILD_NETWORK', 'X'];
const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('"', "'", '`', '$', '$(x)', '#', ';', '=', '\\', '--privileged', '-v /:/host', '../..', '\0', '\r', 'https://', 'file:///', '[s]', ' ', '\u2028'),
);
const line = fc.oneof(
  fc.tuple(fc.constantFrom(...KEYS), fc.array(nasty, { maxLength: 4 })).map(([key, parts]) => `${key}=${parts.join('')}`),
  fc.array(nasty, { maxLength: 4 }).map((parts) => parts.join('')),
);
const file = fc.array(line, { maxLength: 8 }).map((lines) => lines.join(fc.sample(fc.constantFrom('\n', '\r\n'), 1)[0]));

describe('configuration fuzzing (fast-check)', () => {
  it('parseConfText never throws anything but a one-line ConfigError', () => {
    fc.assert(fc.property(file, (text) => onlyConfigErrors(() => parseConfText('/etc/kvc/x.conf', text))), { numRuns: 3000 });
  });

  it('validation never throws anything but a one-line ConfigError', () => {
    fc.assert(fc.property(file, (text) => onlyConfigErrors(() => {
      const entries = parseConfText('/nonexistent/usbip.conf', text);
      instanceSettingsFrom('usbip', { path: '/nonexistent/usbip.conf', entries }, ['usbip']);
      globalSettingsFrom([{ path: '/nonexistent/kvc.conf', entries }]);
    })), { numRuns: 3000 });
  });

  it('a simple KEY="value" round-trips', () => {
    const value = fc.string({ maxLength: 30 }).filter((v) => !/["'`$\\#;\p{Cc}]/u.test(v) && v.trim() === v);
    fc.assert(fc.property(fc.constantFrom(...KEYS), value, (key, v) => {
      expect(parseConfText('f', `${key}="${v}"`).get(key).value).to.equal(v);
    }), { numRuns: 1000 });
  });
});
