// Unit tests, on data: where each module of a load comes from, what an unload from a record takes
// out, whether the kernel refuses unsigned modules, and the parsers of depmod's and the image's files.
import { expect } from 'chai';
import { planSources } from '../../../lib/kmods/sources.js';
import { planUnloadRecorded } from '../../../lib/kmods/plan.js';
import { unsignedModulesRefused } from '../../../lib/kernel/signature-policy.js';
import { parseNameList, parseTailSections } from '../../../lib/ops/image-modules.js';
import { mergeRecord } from '../../../lib/ops/load-record.js';
import { moduleNameOfPath, parseModulesDep } from '../../../lib/kernel/modules-dep.js';

const OWN = ['usbip-core', 'usbip-host', 'vhci-hcd'];
const image = new Map([
  ['usb_common', []], ['usbcore', ['usb_common']], ['usbip_core', ['usb_common']],
  ['usbip_host', ['usbcore', 'usbip_core']], ['vhci_hcd', ['usbcore', 'usbip_core']],
  ['usb_storage', ['usbcore', 'scsi_mod']], ['uas', ['usb_storage', 'usbcore', 'scsi_mod']],
]);

describe('sources: host tree or image', () => {
  it('takes from the host what the host has, even where the image has a copy', () => {
    const plan = planSources({ own: OWN, also: [], image, host: { modules: new Set(['usbcore', 'usb_common']), builtin: new Set() }, state: new Map() });
    expect(plan).to.deep.include({ hostFirst: ['usb_common', 'usbcore'], image: OWN, hostAfter: [], missing: [] });
  });

  it('cloud kernel: scsi_mod from the host, load-also split between image and host, live and built-in ones skipped', () => {
    const plan = planSources({
      own: OWN, also: ['usb-storage', 'uas', 'sd_mod', 'crc32c'], image,
      host: { modules: new Set(['scsi_mod', 'sd_mod']), builtin: new Set(['crc32c']) }, state: new Map([['usb_common', 'live']]),
    });
    expect(plan.hostFirst).to.deep.equal(['scsi_mod']);
    expect(plan.image).to.deep.equal([...OWN, 'usb-storage', 'uas']);
    expect(plan.hostAfter).to.deep.equal(['sd_mod']);
    expect(plan.skipped).to.deep.equal([{ module: 'crc32c', reason: 'built into the running kernel' }]);
  });

  it('an own module the image lacks is missing (refused before anything loads); the closure is what the load may bring in', () => {
    const lacking = new Map([...image].filter(([name]) => name !== 'vhci_hcd'));
    const plan = planSources({ own: OWN, also: [], image: lacking, host: { modules: new Set(['usbcore', 'usb_common']), builtin: new Set(), deps: new Map([['usbcore', ['usb_common']]]) }, state: new Map() });
    expect(plan.missing).to.deep.equal(['vhci-hcd']);
    const full = planSources({ own: OWN, also: ['usb-storage'], image, host: { modules: new Set(['usbcore', 'usb_common', 'scsi_mod', 'scsi_common']), builtin: new Set(), deps: new Map([['usbcore', ['usb_common']], ['scsi_mod', ['scsi_common']]]) }, state: new Map() });
    expect([...full.closure].sort()).to.deep.equal(['scsi_common', 'scsi_mod', 'usb_common', 'usb_storage', 'usbcore', 'usbip_core', 'usbip_host', 'vhci_hcd']);
  });

  it('names what neither has; with no host tree, every outside dependency is missing', () => {
    expect(planSources({ own: OWN, also: ['usb-storage'], image, host: undefined, state: new Map() }).missing).to.deep.equal(['scsi_mod']);
    expect(planSources({ own: OWN, also: ['nope'], image, host: { modules: new Set(), builtin: new Set() }, state: new Map() }).missing).to.deep.equal(['nope']);
  });
});

const st = (entries) => new Map(entries.map(([name, state, refcnt = 0, holders = []]) => [name, { name, state, refcnt, holders }]));

describe('plan: unload from the record', () => {
  const recorded = ['sd_mod', 'uas', 'usb_storage', 'vhci_hcd', 'usbip_host', 'usbcore', 'usbip_core', 'usb_common', 'scsi_mod'];
  it('unloads exactly the recorded modules, in their order, own names spelt as KMOD_NAMES', () => {
    const status = st(recorded.map((name) => [name, 'live']));
    const plan = planUnloadRecorded(OWN, recorded, status);
    expect(plan.unload).to.deep.equal(['sd_mod', 'uas', 'usb_storage', 'vhci-hcd', 'usbip-host', 'usbcore', 'usbip-core', 'usb_common', 'scsi_mod']);
    expect(plan.blocked).to.deep.equal([]);
  });

  it('keeps a dependency used from outside and what it holds; blocks an own module held by a kept one', () => {
    const status = st([
      ['vhci_hcd', 'live'], ['usbcore', 'live', 2, ['ftdi_sio', 'vhci_hcd']], ['usb_common', 'live', 1, ['usbcore']], ['scsi_mod', 'live', 1, []],
    ]);
    const plan = planUnloadRecorded(OWN, ['vhci_hcd', 'usbcore', 'usb_common', 'scsi_mod'], status);
    expect(plan.unload).to.deep.equal(['vhci-hcd']);
    expect(plan.kept.map((k) => k.module)).to.deep.equal(['usbcore', 'scsi_mod', 'usb_common']);
    expect(plan.blocked).to.deep.equal([]);
    const held = planUnloadRecorded(OWN, ['uas', 'usbip_core'], st([['uas', 'live', 1, []], ['usbip_core', 'live', 1, ['uas']]]));
    expect(held.blocked).to.deep.equal([{ module: 'usbip-core', holders: ['uas'], otherUsers: 0 }]);
  });
});

describe('signature policy', () => {
  const none = { sigEnforce: undefined, lockdown: undefined, secureBoot: undefined };
  it('takes unsigned modules when nothing enforces signatures', () => {
    expect(unsignedModulesRefused(none)).to.equal(undefined);
    expect(unsignedModulesRefused({ sigEnforce: 'N\n', lockdown: '[none] integrity confidentiality\n', secureBoot: Uint8Array.from([6, 0, 0, 0, 0]) })).to.equal(undefined);
  });
  it('refuses under sig_enforce, lockdown integrity or confidentiality, or EFI Secure Boot', () => {
    expect(unsignedModulesRefused({ ...none, sigEnforce: 'Y\n' })).to.match(/module.sig_enforce=1/);
    expect(unsignedModulesRefused({ ...none, lockdown: 'none integrity [confidentiality]' })).to.match(/lockdown=confidentiality/);
    expect(unsignedModulesRefused({ ...none, secureBoot: Uint8Array.from([6, 0, 0, 0, 1]) })).to.match(/Secure Boot/);
    expect(unsignedModulesRefused({ ...none, secureBoot: Uint8Array.from([6, 0, 0, 0]) })).to.equal(undefined);
  });
  it('Secure Boot with lockdown "none" (shim validation off, or a kernel that does not tie them) takes unsigned modules', () => {
    expect(unsignedModulesRefused({ ...none, lockdown: '[none] integrity confidentiality\n', secureBoot: Uint8Array.from([6, 0, 0, 0, 1]) })).to.equal(undefined);
  });
});

describe('parsers of depmod\'s and the image\'s files', () => {
  it('modules.dep with compressed in-tree paths', () => {
    expect(moduleNameOfPath('kernel/drivers/usb/common/usb-common.ko.xz')).to.equal('usb_common');
    expect([...parseModulesDep('extra/vhci-hcd.ko: extra/usbip-core.ko\nkernel/a/b.ko.zst:\n')]).to.deep.equal([['vhci_hcd', ['usbip_core']], ['b', []]]);
  });
  it('tail sections, name lists and the merged record', () => {
    const sections = parseTailSections('==> /a <==\nx: y\n\n==> /b <==\n# c\nusb-storage uas\n');
    expect(parseNameList(sections.get('/b'))).to.deep.equal(['usb-storage', 'uas']);
    expect(sections.get('/a')).to.equal('x: y\n\n');
    expect(mergeRecord(['uas'], ['vhci_hcd', 'gone'], ['uas', 'vhci_hcd'])).to.deep.equal(['uas', 'vhci_hcd']);
  });
});
