// `kvc kube module|daemonset …`: manifests that load an instance's modules on a cluster's nodes.
import type { Command } from 'commander';
import type { Outcome } from '../command-kit.js';
import { registerKubeDaemonSet } from './kube-daemonset.js';
import { registerKubeModule } from './kube-module.js';

export function registerKube(program: Command, outcome: Outcome): void {
  const kube = program
    .command('kube')
    .summary('print Kubernetes manifests: a KMM Module, or DaemonSets for clusters without KMM')
    .description('Print manifests that load the instance\'s modules on a cluster\'s nodes, from the images built here and pushed with `kvc push`:\n'
      + '`kvc kube module` for clusters that run the Kernel Module Management operator, `kvc kube daemonset` for the others.');
  registerKubeModule(kube, outcome);
  registerKubeDaemonSet(kube, outcome);
}
