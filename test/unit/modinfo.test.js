// Unit tests: modinfo parsing and the image check, on modinfo output recorded from the real usbip image.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { parseModinfo, checkModules, vermagicRelease } from '../../lib/kmods/modinfo.js';

const recorded = readFileSync(new URL('../fixtures/modinfo-usbip.txt', import.meta.url), 'utf8');
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

  it('reports a wrong kernel, a wrong version and a missing module', () => {
    const infos = parseModinfo(recorded);
    const problems = checkModules(['usbip-core', 'usbip-vudc'], infos, '6.1.0-57-amd64', 'not-this');
    expect(problems[0]).to.equal(`usbip-core was built for ${KVER} (vermagic), not 6.1.0-57-amd64`);
    if (infos[0].version !== undefined) expect(problems[1]).to.equal(`usbip-core has version ${infos[0].version}, not KMOD_SOFTWARE_VERSION not-this`);
    expect(problems[problems.length - 1]).to.equal('usbip-vudc is not in the image');
  });

  it('does not check the version of a module that declares none', () => {
    const text = 'filename: /lib/modules/5.0/extra/a.ko\nname: a\nvermagic: 5.0 SMP\ndepends:\n';
    expect(checkModules(['a'], parseModinfo(text), '5.0', '9.9')).to.deep.equal([]);
  });
});
