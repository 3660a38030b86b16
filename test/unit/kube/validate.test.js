// Every manifest kvc renders, validated as a cluster would (test/unit/kube/kube-validators.js): Modules
// against KMM's CRD schema and webhook rules, DaemonSets against Kubernetes' schemas; and broken
// manifests, to prove the validators catch what a cluster would refuse.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { renderModule } from '../../../lib/kube/module.js';
import { renderDaemonSet } from '../../../lib/kube/daemonset.js';
import { kubeSettingsFrom, NO_KUBE_SETTINGS } from '../../../lib/config/kube-settings.js';
import { readConfFile } from '../../../lib/config/conf-file.js';
import { nfdKernelLabelValue } from '../../../lib/kube/names.js';
import { daemonSetProblems, moduleProblems } from './kube-validators.js';
import { imageTagFor } from '../../../lib/images/names.js';

const USBIP_CONF = new URL('../../../host/etc/kvc/usbip.conf', import.meta.url).pathname;
// The checkout may sit where others could write (a CI workspace): trust is relaxed for this one
// read only. Set for the whole process, it would also reach every kvc the later tests of the same
// mocha run start (the trust tests among them), which inherit the environment.
process.env.KVC_TEST_INSECURE_FILES = '1';
let usbipConf;
try {
  usbipConf = await readConfFile(USBIP_CONF);
} finally {
  delete process.env.KVC_TEST_INSECURE_FILES;
}
const usbipKube = kubeSettingsFrom(usbipConf);
const usbipModules = /^KMOD_NAMES="(.*)"$/m.exec(readFileSync(USBIP_CONF, 'utf8'))[1].split(' ');
const KERNELS = ['6.1.0-56-amd64', '6.12.117+deb12-amd64', '6.1.0-56-cloud-amd64', '5.4.51-v8+', '6.8.0-1015-azure'];
const image = (kver) => `localhost/usbip-1.0.0:${imageTagFor(kver)}`;
const clone = (value) => structuredClone(value);

// The variations rendered: USB/IP as shipped, one module, in-tree replacement, no regexp, a repository.
const MODULE_CASES = {
  'usbip, local images': { name: 'usbip', namespace: 'kvc', modules: usbipModules, kube: usbipKube, images: KERNELS.map((kver) => ({ kver, image: image(kver) })), repo: undefined, arch: 'amd64' },
  'usbip, pushed, only the regexp': { name: 'usbip', namespace: 'kube-system', modules: usbipModules, kube: usbipKube, images: [], repo: '127.0.0.1:5000/kvc', arch: 'arm64', nodeSelector: { 'node-role.kubernetes.io/worker': '' } },
  'one module, no regexp': { name: 'hello', namespace: 'kvc', modules: ['usbip-core'], kube: NO_KUBE_SETTINGS, images: [{ kver: KERNELS[0], image: image(KERNELS[0]) }], repo: 'quay.io/me', arch: 'amd64' },
  'usbip, pushed, signed in the cluster (Secure Boot nodes)': { name: 'usbip', namespace: 'kvc', modules: usbipModules, kube: usbipKube, images: KERNELS.map((kver) => ({ kver, image: image(kver) })), repo: 'quay.io/me/kvc', arch: 'amd64', sign: { keySecret: 'kvc-signing-key', certSecret: 'kvc-signing-cert' } },
  'replacing in-tree modules': { name: 'drv', namespace: 'kvc', modules: ['a', 'b'], kube: { ...NO_KUBE_SETTINGS, inTreeToRemove: ['a', 'old_b'] }, images: [{ kver: KERNELS[1], image: image(KERNELS[1]) }], repo: 'quay.io/me', arch: 'amd64' },
};
const modules = Object.entries(MODULE_CASES).map(([what, input]) => [what, renderModule(input, image('any'))]);

const daemonSets = KERNELS.flatMap((kver) => [true, false].map((hasTools) => [`${kver}, ${hasTools ? 'with' : 'without'} tools`, renderDaemonSet({
  name: 'usbip', namespace: 'kvc', modules: usbipModules, inTreeToRemove: hasTools ? [] : ['usbip_core'], tools: hasTools ? usbipKube.tools : { hostNetwork: false, mounts: [] },
  hasTools, kver, kernelLabel: nfdKernelLabelValue(kver), image: `quay.io/me/usbip-1.0.0:${imageTagFor(kver)}`, arch: 'amd64',
})]));

describe('kube: every rendered Module passes KMM\'s CRD schema and webhook', () => {
  for (const [what, module] of modules) it(what, () => expect(moduleProblems(module)).to.deep.equal([]));
});

describe('kube: every rendered DaemonSet passes Kubernetes\' schema and API checks', () => {
  for (const [what, daemonSet] of daemonSets) it(what, () => expect(daemonSetProblems(daemonSet)).to.deep.equal([]));
});

describe('kube: the validators catch broken manifests', () => {
  const good = modules[0][1];
  const container = (module) => module.spec.moduleLoader.container;
  const brokenModules = {
    'a misspelt field (the API server would refuse it under strict field validation)': (m) => { container(m).modprobe.dirNam = '/opt'; },
    'a field of the wrong type': (m) => { container(m).modprobe.modulesLoadingOrder = 'vhci-hcd'; },
    'no selector (the schema requires it)': (m) => { delete m.spec.selector; },
    'no kernel mappings': (m) => { delete container(m).kernelMappings; },
    'a mapping with both literal and regexp': (m) => { container(m).kernelMappings[0].regexp = '^x$'; },
    'a mapping with neither': (m) => { delete container(m).kernelMappings[0].literal; },
    'an image without a tag': (m) => { container(m).kernelMappings[0].containerImage = 'quay.io/me/usbip'; },
    'a loading order not starting with moduleName': (m) => { container(m).modprobe.modulesLoadingOrder.reverse(); },
    'a module listed twice in the order': (m) => { container(m).modprobe.modulesLoadingOrder.push('vhci-hcd'); },
    'an order of one module': (m) => { container(m).modprobe.modulesLoadingOrder = ['vhci-hcd']; },
    'rawArgs beside moduleName': (m) => { container(m).modprobe.rawArgs = { load: ['-v', 'x'], unload: ['-rv', 'x'] }; },
    'both in-tree fields': (m) => { container(m).inTreeModulesToRemove = ['a']; container(m).inTreeModuleToRemove = 'b'; },
    'an invalid regexp': (m) => { container(m).kernelMappings.push({ regexp: '^(6', containerImage: 'a:b' }); },
    'name and namespace over 40 characters': (m) => { m.metadata.namespace = 'n'.repeat(40); },
    'another kind': (m) => { m.kind = 'Modules'; },
  };
  const signedGood = modules.find(([what]) => what.includes('signed in the cluster'))[1];
  const brokenSigned = {
    'sign without unsignedImage (and no build)': (m) => { delete container(m).kernelMappings[0].sign.unsignedImage; },
    'sign without its key Secret': (m) => { delete container(m).kernelMappings[0].sign.keySecret; },
    'sign with nothing to sign': (m) => { container(m).kernelMappings[0].sign.filesToSign = []; },
    'the signed image pushed over the unsigned one': (m) => { container(m).kernelMappings[0].containerImage = container(m).kernelMappings[0].sign.unsignedImage; },
    'a misspelt sign field': (m) => { container(m).kernelMappings[0].sign.fileToSign = ['x']; },
  };
  for (const [what, breakIt] of Object.entries(brokenSigned)) {
    it(`Module (signed): ${what}`, () => {
      const module = clone(signedGood);
      breakIt(module);
      expect(moduleProblems(module)).to.not.be.empty;
    });
  }
  for (const [what, breakIt] of Object.entries(brokenModules)) {
    it(`Module: ${what}`, () => {
      const module = clone(good);
      breakIt(module);
      expect(moduleProblems(module)).to.not.be.empty;
    });
  }

  const goodDs = daemonSets[0][1];
  const pod = (ds) => ds.spec.template.spec;
  const brokenDaemonSets = {
    'capabilities.add not a list': (ds) => { pod(ds).initContainers[0].securityContext.capabilities.add = 'SYS_MODULE'; },
    'a container without image or name': (ds) => { delete pod(ds).containers[0].name; },
    'no selector': (ds) => { delete ds.spec.selector; },
    'a selector the template does not match': (ds) => { ds.spec.selector.matchLabels['app.kubernetes.io/name'] = 'other'; },
    'a kernel label value with "+"': (ds) => { pod(ds).nodeSelector['feature.node.kubernetes.io/kernel-version.full'] = '6.12.117+deb12-amd64'; },
    'a name with dots': (ds) => { ds.metadata.name = 'kvc-usbip-6.1.0'; },
    'a mount of a volume that is not there': (ds) => { pod(ds).volumes.shift(); },
    'two containers of one name': (ds) => { pod(ds).containers[1].name = 'modules'; },
    'an image without a tag': (ds) => { pod(ds).containers[0].image = 'quay.io/me/usbip'; },
    'restartPolicy Never': (ds) => { pod(ds).restartPolicy = 'Never'; },
    'tolerationSeconds as a string': (ds) => { pod(ds).tolerations[0].tolerationSeconds = '30'; },
  };
  for (const [what, breakIt] of Object.entries(brokenDaemonSets)) {
    it(`DaemonSet: ${what}`, () => {
      const daemonSet = clone(goodDs);
      breakIt(daemonSet);
      expect(daemonSetProblems(daemonSet)).to.not.be.empty;
    });
  }
});
