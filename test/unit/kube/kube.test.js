// Unit tests: the Kubernetes manifests kvc renders (KMM Module, DaemonSet), their names, their
// output as YAML or JSON, the instance keys they come from, and the push arguments. Pure, on data.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { parse, parseAllDocuments } from 'yaml';
import { kernelMappings, modprobeSpec, renderModule, templateImageFor } from '../../../lib/kube/module.js';
import { daemonSetName, renderDaemonSet, toolsVolumes } from '../../../lib/kube/daemonset.js';
import { dnsLabel, kubeArch, nfdKernelLabelValue } from '../../../lib/kube/names.js';
import { formatManifests } from '../../../lib/kube/output.js';
import { HOLD_SCRIPT, LOAD_SCRIPT, TOOLS_SCRIPT } from '../../../lib/kube/pod-scripts.js';
import { kubeSettingsFrom, NO_KUBE_SETTINGS } from '../../../lib/config/kube-settings.js';
import { pushArgs } from '../../../lib/runtime/args.js';
import { checkImageRepo, imageInRepo, withoutTag } from '../../../lib/images/names.js';

const USBIP_MODULES = ['usbip-core', 'usbip-host', 'vhci-hcd'];
const USBIP_KUBE = {
  tools: { hostNetwork: true, mounts: [{ kind: 'host', path: '/sys', readOnly: false }, { kind: 'host', path: '/dev', readOnly: true }, { kind: 'scratch', path: '/run' }] },
  kernelRegexp: '^[0-9]+\\.[0-9]+\\.[0-9]+-[0-9]+-amd64$',
  inTreeToRemove: [],
};
const IMAGES = [
  { kver: '6.1.0-56-amd64', image: 'localhost/usbip-1.0.0:6.1.0-56-amd64' },
  { kver: '6.12.117+deb12-amd64', image: 'localhost/usbip-1.0.0:_6.12.117_pdeb12-amd64' },
];
const conf = (entries) => ({ path: '/etc/kvc/x.conf', entries: new Map(Object.entries(entries).map(([key, value]) => [key, { value, line: 1 }])) });

describe('kube: names', () => {
  it('gives NFD\'s kernel label value: "+" and "~" become "_", ends trimmed', () => {
    expect(nfdKernelLabelValue('6.1.0-56-amd64')).to.equal('6.1.0-56-amd64');
    expect(nfdKernelLabelValue('6.12.117+deb12-amd64')).to.equal('6.12.117_deb12-amd64');
    expect(nfdKernelLabelValue('5.4.51-v8+')).to.equal('5.4.51-v8');
    expect(nfdKernelLabelValue('6.1~rc1')).to.equal('6.1_rc1');
    expect(nfdKernelLabelValue(`6.1.0-${'x'.repeat(70)}`)).to.equal(undefined);
  });

  it('makes DNS labels, hashing what it cuts so that names stay distinct', () => {
    expect(dnsLabel('kvc', 'usbip', '6.12.117+deb12-amd64')).to.equal('kvc-usbip-6-12-117-deb12-amd64');
    const a = dnsLabel('kvc', 'usbip', `6.1.0-${'a'.repeat(70)}`);
    const b = dnsLabel('kvc', 'usbip', `6.1.0-${'a'.repeat(69)}b`);
    expect(a).to.have.length.at.most(63).and.match(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a).to.not.equal(b);
  });

  it('puts a local image into a repository, keeping name and tag', () => {
    expect(imageInRepo('localhost/usbip-1.0.0:6.1.0-56-amd64', 'quay.io/me/kvc/')).to.equal('quay.io/me/kvc/usbip-1.0.0:6.1.0-56-amd64');
    expect(imageInRepo('localhost/usbip-1.0.0:6.1.0-56-amd64', undefined)).to.equal('localhost/usbip-1.0.0:6.1.0-56-amd64');
    expect(withoutTag('127.0.0.1:5000/kvc/usbip-1.0.0:x')).to.equal('127.0.0.1:5000/kvc/usbip-1.0.0');
    expect(withoutTag('127.0.0.1:5000/kvc/usbip')).to.equal('127.0.0.1:5000/kvc/usbip');
  });

  it('accepts registry/path repositories and refuses tags, upper case, schemes', () => {
    expect(checkImageRepo('127.0.0.1:5000/kvc')).to.equal('127.0.0.1:5000/kvc');
    expect(checkImageRepo('quay.io/me/kvc/')).to.equal('quay.io/me/kvc');
    for (const bad of ['https://quay.io/me', 'quay.io/Me', 'quay.io/me:tag/x', '', '-x/y', 'a b']) {
      expect(() => checkImageRepo(bad), bad).to.throw(/is not an image repository/).with.property('exitStatus', 64);
    }
  });

  it('names architectures as Kubernetes does', () => {
    expect(kubeArch('x64')).to.equal('amd64');
    expect(kubeArch('arm64')).to.equal('arm64');
  });
});

describe('kube: KMM Module', () => {
  it('loads the last module of KMOD_NAMES, with the list reversed as the loading order (KMM loads it last to first)', () => {
    expect(modprobeSpec(USBIP_MODULES)).to.deep.equal({ moduleName: 'vhci-hcd', dirName: '/opt', modulesLoadingOrder: ['vhci-hcd', 'usbip-host', 'usbip-core'] });
    expect(modprobeSpec(['one'])).to.deep.equal({ moduleName: 'one', dirName: '/opt' });
  });

  it('maps each kernel with an image literally, its tag as kvc made it, then the regexp to the template', () => {
    const template = templateImageFor('localhost/usbip-1.0.0:any', 'quay.io/me');
    expect(template).to.equal('quay.io/me/usbip-1.0.0:${KERNEL_FULL_VERSION}');
    expect(kernelMappings({ images: IMAGES, repo: 'quay.io/me', kube: USBIP_KUBE }, template)).to.deep.equal([
      { literal: '6.1.0-56-amd64', containerImage: 'quay.io/me/usbip-1.0.0:6.1.0-56-amd64' },
      { literal: '6.12.117+deb12-amd64', containerImage: 'quay.io/me/usbip-1.0.0:_6.12.117_pdeb12-amd64' },
      { regexp: '^[0-9]+\\.[0-9]+\\.[0-9]+-[0-9]+-amd64$', containerImage: 'quay.io/me/usbip-1.0.0:${KERNEL_FULL_VERSION}' },
    ]);
    expect(kernelMappings({ images: IMAGES.slice(0, 1), repo: undefined, kube: NO_KUBE_SETTINGS }, template)).to.have.length(1);
  });

  it('renders the Module with the node selector and, only when set, the in-tree modules to remove', () => {
    const input = { name: 'usbip', namespace: 'kvc', modules: USBIP_MODULES, kube: USBIP_KUBE, images: IMAGES, repo: 'quay.io/me', arch: 'amd64', nodeSelector: { 'node-role.kubernetes.io/worker': '' } };
    const module = renderModule(input, 'localhost/usbip-1.0.0:any');
    expect(module).to.include({ apiVersion: 'kmm.sigs.x-k8s.io/v1beta1', kind: 'Module' });
    expect(module.metadata).to.include({ name: 'usbip', namespace: 'kvc' });
    expect(module.spec.selector).to.deep.equal({ 'kubernetes.io/arch': 'amd64', 'node-role.kubernetes.io/worker': '' });
    expect(module.spec.moduleLoader.container).to.not.have.property('inTreeModulesToRemove');
    const replacing = renderModule({ ...input, kube: { ...USBIP_KUBE, inTreeToRemove: ['old_mod'] } }, 'localhost/usbip-1.0.0:any');
    expect(replacing.spec.moduleLoader.container.inTreeModulesToRemove).to.deep.equal(['old_mod']);
  });

  it('with signing Secrets, KMM signs each mapping\'s image in the cluster: the Secrets by name, the modules under the kernel\'s folder, the signed image beside the unsigned one', () => {
    const template = templateImageFor('localhost/usbip-1.0.0:any', 'quay.io/me');
    const sign = { keySecret: 'kvc-signing-key', certSecret: 'kvc-signing-cert' };
    const secrets = { keySecret: { name: 'kvc-signing-key' }, certSecret: { name: 'kvc-signing-cert' } };
    expect(kernelMappings({ images: IMAGES, repo: 'quay.io/me', kube: USBIP_KUBE, sign }, template)).to.deep.equal([
      { literal: '6.1.0-56-amd64', containerImage: 'quay.io/me/usbip-1.0.0:6.1.0-56-amd64-signed', sign: { unsignedImage: 'quay.io/me/usbip-1.0.0:6.1.0-56-amd64', ...secrets, filesToSign: ['/opt/lib/modules/6.1.0-56-amd64/extra/*.ko'] } },
      { literal: '6.12.117+deb12-amd64', containerImage: 'quay.io/me/usbip-1.0.0:_6.12.117_pdeb12-amd64-signed', sign: { unsignedImage: 'quay.io/me/usbip-1.0.0:_6.12.117_pdeb12-amd64', ...secrets, filesToSign: ['/opt/lib/modules/6.12.117+deb12-amd64/extra/*.ko'] } },
      { regexp: '^[0-9]+\\.[0-9]+\\.[0-9]+-[0-9]+-amd64$', containerImage: 'quay.io/me/usbip-1.0.0:${KERNEL_FULL_VERSION}-signed', sign: { unsignedImage: 'quay.io/me/usbip-1.0.0:${KERNEL_FULL_VERSION}', ...secrets, filesToSign: ['/opt/lib/modules/${KERNEL_FULL_VERSION}/extra/*.ko'] } },
    ]);
  });
});

describe('kube: DaemonSet', () => {
  const input = {
    name: 'usbip', namespace: 'kvc', modules: USBIP_MODULES, inTreeToRemove: [], tools: USBIP_KUBE.tools, hasTools: true,
    kver: '6.12.117+deb12-amd64', kernelLabel: '6.12.117_deb12-amd64', image: 'quay.io/me/usbip-1.0.0:_6.12.117_pdeb12-amd64', arch: 'amd64',
  };
  const ds = renderDaemonSet(input);
  const pod = ds.spec.template.spec;

  it('runs only on nodes of that kernel (NFD label) and architecture, tolerating every taint, without a token', () => {
    expect(ds.metadata.name).to.equal(daemonSetName('usbip', input.kver)).and.equal('kvc-usbip-6-12-117-deb12-amd64');
    expect(pod.nodeSelector).to.deep.equal({ 'feature.node.kubernetes.io/kernel-version.full': '6.12.117_deb12-amd64', 'kubernetes.io/arch': 'amd64' });
    expect(pod.tolerations).to.deep.equal([{ operator: 'Exists' }]);
    expect(pod.automountServiceAccountToken).to.equal(false);
    expect(ds.spec.selector.matchLabels).to.deep.equal(ds.spec.template.metadata.labels);
  });

  it('loads in an init container and unloads from a long-running one, both with CAP_SYS_MODULE only and a read-only root', () => {
    const [load] = pod.initContainers;
    const [modules, tools] = pod.containers;
    for (const container of [load, modules]) {
      expect(container.securityContext).to.deep.include({ capabilities: { drop: ['ALL'], add: ['SYS_MODULE'] }, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
      expect(container.securityContext).to.not.have.property('privileged');
    }
    expect(load.command.slice(3)).to.deep.equal(['kvc-load', '--', 'usbip-core', 'usbip-host', 'vhci-hcd']);
    expect(modules.command.slice(3)).to.deep.equal(['kvc-hold', 'vhci-hcd', 'usbip-host', 'usbip-core']);
    expect(tools.securityContext.capabilities).to.deep.equal({ drop: ['ALL'] });
    expect(tools.securityContext.readOnlyRootFilesystem).to.equal(true);
  });

  it('gives the tools and the pre-unload hook what KVC_KUBE_TOOLS_ACCESS says, and nothing without it', () => {
    expect(pod.hostNetwork).to.equal(true);
    expect(pod.volumes).to.deep.equal([
      { name: 'node-sys', hostPath: { path: '/sys', type: 'Directory' } },
      { name: 'node-dev', hostPath: { path: '/dev', type: 'Directory' } },
      { name: 'scratch-run', emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
    ]);
    expect(pod.containers[1].volumeMounts).to.deep.equal([
      { name: 'node-sys', mountPath: '/sys', readOnly: false }, { name: 'node-dev', mountPath: '/dev', readOnly: true }, { name: 'scratch-run', mountPath: '/run' },
    ]);
    expect(pod.initContainers[0]).to.not.have.property('volumeMounts');
    const bare = renderDaemonSet({ ...input, tools: { hostNetwork: false, mounts: [] }, hasTools: false }).spec.template.spec;
    expect(bare).to.not.have.any.keys('hostNetwork', 'volumes');
    expect(bare.containers.map((c) => c.name)).to.deep.equal(['modules']);
    expect(toolsVolumes({ hostNetwork: false, mounts: [] })).to.deep.equal({ volumes: [], mounts: [] });
  });

  it('unloads in-tree modules the instance replaces before loading its own', () => {
    const replacing = renderDaemonSet({ ...input, inTreeToRemove: ['old_a', 'old-b'] });
    expect(replacing.spec.template.spec.initContainers[0].command.slice(3)).to.deep.equal(['kvc-load', 'old_a', 'old-b', '--', ...USBIP_MODULES]);
  });

  it('has scripts that sh can parse', () => {
    for (const script of [LOAD_SCRIPT, HOLD_SCRIPT, TOOLS_SCRIPT]) execFileSync('sh', ['-n', '-c', script]);
  });
});

describe('kube: output', () => {
  const objects = [{ kind: 'A', metadata: { name: 'a' }, spec: { version: '6.1', flag: 'true', port: '3240' } }, { kind: 'B' }];

  it('prints YAML documents that read back as the same objects, strings staying strings', () => {
    const text = formatManifests(objects, 'yaml');
    expect(parseAllDocuments(text).map((doc) => doc.toJS())).to.deep.equal(objects);
    expect(parse(formatManifests([objects[0]], 'yaml'))).to.deep.equal(objects[0]);
  });

  it('writes an object used twice twice, not as a YAML anchor and alias', () => {
    const labels = { a: 'b' };
    expect(formatManifests([{ x: labels, y: labels }], 'yaml')).to.not.match(/[&*]a1/);
  });

  it('prints JSON: one object as itself, several (or list: true) as a v1 List', () => {
    expect(JSON.parse(formatManifests([objects[0]], 'json'))).to.deep.equal(objects[0]);
    expect(JSON.parse(formatManifests(objects, 'json'))).to.deep.equal({ apiVersion: 'v1', kind: 'List', items: objects });
    expect(JSON.parse(formatManifests([objects[0]], 'json', { list: true })).kind).to.equal('List');
  });
});

describe('kube: instance keys', () => {
  it('reads KVC_KUBE_TOOLS_ACCESS, KVC_KUBE_KERNEL_REGEXP and KVC_KUBE_IN_TREE_REMOVE', () => {
    expect(kubeSettingsFrom(conf({ KVC_KUBE_TOOLS_ACCESS: 'host-network /sys:rw /dev:ro /run:scratch', KVC_KUBE_KERNEL_REGEXP: '^6\\.1\\.', KVC_KUBE_IN_TREE_REMOVE: 'a b' }))).to.deep.equal({ ...USBIP_KUBE, kernelRegexp: '^6\\.1\\.', inTreeToRemove: ['a', 'b'] });
    expect(kubeSettingsFrom(conf({}))).to.deep.equal(NO_KUBE_SETTINGS);
  });

  it('refuses what it cannot render, naming the key and the fix', () => {
    for (const [key, value, message] of [
      ['KVC_KUBE_TOOLS_ACCESS', 'sys:rw', /KVC_KUBE_TOOLS_ACCESS: "sys:rw" is not/],
      ['KVC_KUBE_TOOLS_ACCESS', '/sys:rwx', /is not host-network/],
      ['KVC_KUBE_TOOLS_ACCESS', '/sys:rw /sys:ro', /each once/],
      ['KVC_KUBE_TOOLS_ACCESS', '/a/../etc:rw', /is not host-network/],
      ['KVC_KUBE_KERNEL_REGEXP', '^(6', /is not a regular expression/],
      ['KVC_KUBE_KERNEL_REGEXP', '^6\\.1(?!\\.0-50)', /lookaround or a backreference, which KMM's RE2 does not have/],
      ['KVC_KUBE_KERNEL_REGEXP', '^(6)\\.\\1', /lookaround or a backreference/],
      ['KVC_KUBE_IN_TREE_REMOVE', 'a;b', /is not a module name/],
    ]) {
      expect(() => kubeSettingsFrom(conf({ [key]: value })), `${key}=${value}`).to.throw(message).with.property('exitStatus', 78);
    }
  });
});

describe('push arguments', () => {
  it('podman pushes to a docker:// destination, verifying TLS unless told not to', () => {
    expect(pushArgs('podman', 'localhost/usbip-1.0.0:k', 'quay.io/me/usbip-1.0.0:k', { tlsVerify: true })).to.deep.equal(['push', 'localhost/usbip-1.0.0:k', 'docker://quay.io/me/usbip-1.0.0:k']);
    expect(pushArgs('podman', 's', 'd', { tlsVerify: false })).to.deep.equal(['push', '--tls-verify=false', 's', 'docker://d']);
    expect(pushArgs('docker', 's', 'd', { tlsVerify: true })).to.deep.equal(['push', 'd']);
  });
});
