// Unit tests: modinfo parsing and the image check, on modinfo output recorded from the real usbip image.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseModinfo, checkModules, vermagicRelease } from '../../../lib/kmods/modinfo.js';

const recorded = readFileSync(new URL('../../fixtures/modinfo-usbip.txt', import.meta.url), 'utf8');
// The USB/IP modules declare no version; this fixture's modules do (MODULE_VERSION), in modinfo's format.
const versioned = readFileSync(new URL('../../fixtures/modinfo-versioned.txt', import.meta.url), 'utf8');
const KVER = '6.1.0-56-amd64';

describe('modinfo', () => {
  it('splits several modules into records with name, vermagic, version and depends', () => {
    const infos = parseModinfo(recorded);
    expect(infos.map((i) => i.name)).to.deep.equal(['usbip_core', 'usbip_host', 'vhci_hcd']);
    expect(infos.map(vermagicRelease)).to.deep.equal([KVER, KVER, KVER]);
    expect(infos[1].depends).to.include('usbip-core');
  });

  it('finds nothing wrong with a matching image', () => {
    const infos = parseModinfo(recorded);
    expect(checkModules(['usbip-core', 'usbip-host', 'vhci-hcd'], infos, KVER, infos[0].version ?? 'x')).to.deep.equal([]);
  });

  it('reports a wrong kernel and a missing module', () => {
    const problems = checkModules(['usbip-core', 'usbip-vudc'], parseModinfo(recorded), '6.1.0-57-amd64', '1.0.0');
    expect(problems).to.deep.equal([`usbip-core was built for ${KVER} (vermagic), not 6.1.0-57-amd64`, 'usbip-vudc is not in the image']);
  });

  it('checks the version of modules that declare one: equal passes, different is named', () => {
    const infos = parseModinfo(versioned);
    expect(infos.map((info) => info.version)).to.deep.equal(['1.2.3', '1.2.3']);
    expect(checkModules(['simple-kmod', 'simple-procfs-kmod'], infos, KVER, '1.2.3')).to.deep.equal([]);
    expect(checkModules(['simple-kmod', 'simple-procfs-kmod'], infos, KVER, '1.2.4')).to.deep.equal([
      'simple-kmod has version 1.2.3, not KMOD_SOFTWARE_VERSION 1.2.4',
      'simple-procfs-kmod has version 1.2.3, not KMOD_SOFTWARE_VERSION 1.2.4',
    ]);
  });

  it('does not check the version of a module that declares none', () => {
    const text = 'filename: /lib/modules/5.0/extra/a.ko\nname: a\nvermagic: 5.0 SMP\ndepends:\n';
    expect(checkModules(['a'], parseModinfo(text), '5.0', '9.9')).to.deep.equal([]);
  });
});
