// Unit tests: load and unload ordering from module states (states given as data).
import { expect } from 'chai';
import { planLoad, planUnload, describeBlocked } from '../../../lib/kmods/plan.js';

const state = (entries) => new Map(entries.map(([name, st, refcnt = 0, holders = []]) => [name, { name, state: st, refcnt, holders }]));
const MODULES = ['usbip-core', 'usbip-host', 'vhci-hcd'];

describe('plan: load', () => {
  it('loads everything absent in the listed order', () => {
    const plan = planLoad(MODULES, state([]));
    expect(plan.load).to.deep.equal(MODULES);
    expect(plan.skipped).to.deep.equal([]);
  });

  it('skips loaded and built-in modules, saying which, with - and _ equal', () => {
    const plan = planLoad(MODULES, state([['usbip_core', 'live'], ['vhci_hcd', 'builtin']]));
    expect(plan.load).to.deep.equal(['usbip-host']);
    expect(plan.skipped).to.deep.equal([
      { module: 'usbip-core', reason: 'already loaded' },
      { module: 'vhci-hcd', reason: 'built into the running kernel' },
    ]);
  });

  it('reports a module half-way in or out as busy', () => {
    expect(planLoad(MODULES, state([['usbip_host', 'coming']])).busy).to.deep.equal([{ module: 'usbip-host', reason: 'is coming (being loaded by something else)' }]);
  });
});

describe('plan: unload', () => {
  it('unloads in reverse order; holders inside the set do not block', () => {
    const plan = planUnload(MODULES, state([
      ['usbip_core', 'live', 2, ['usbip_host', 'vhci_hcd']],
      ['usbip_host', 'live'],
      ['vhci_hcd', 'live'],
    ]));
    expect(plan.unload).to.deep.equal(['vhci-hcd', 'usbip-host', 'usbip-core']);
    expect(plan.blocked).to.deep.equal([]);
  });

  it('blocks a module held by a module outside the set', () => {
    const plan = planUnload(['usbip-core'], state([['usbip_core', 'live', 1, ['usbip_host']]]));
    expect(plan.blocked).to.deep.equal([{ module: 'usbip-core', holders: ['usbip_host'], otherUsers: 0 }]);
    expect(describeBlocked(plan.blocked[0])).to.equal('usbip-core is in use: held by module usbip_host');
  });

  it('blocks a module whose reference count is more than its holders (a device or file in use)', () => {
    const plan = planUnload(MODULES, state([['usbip_core', 'live'], ['usbip_host', 'live'], ['vhci_hcd', 'live', 2, []]]));
    expect(plan.blocked).to.have.length(1);
    expect(describeBlocked(plan.blocked[0])).to.equal('vhci-hcd is in use: 2 other references (a device, file or process using it)');
  });

  it('skips absent and built-in modules', () => {
    const plan = planUnload(MODULES, state([['usbip_core', 'builtin']]));
    expect(plan.unload).to.deep.equal([]);
    expect(plan.skipped.map((s) => s.module)).to.deep.equal(['vhci-hcd', 'usbip-host', 'usbip-core']);
    expect(plan.skipped[2].reason).to.match(/built into/);
  });
});
