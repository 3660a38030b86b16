// `kvc kube module|daemonset …`: manifests that load an instance's modules on a cluster's nodes.
import type { Command } from 'commander';
import type { Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';
import { registerKubeDaemonSet } from './kube-daemonset.js';
import { registerKubeModule } from './kube-module.js';

// The command's help, as data.
export const KUBE_HELP: CommandHelp = {
  summary: 'print Kubernetes manifests: a KMM Module, or DaemonSets for clusters without KMM',
  description: 'Prints manifests that load the instance\'s modules on a cluster\'s nodes, from the images built here and pushed with `kvc push`: '
    + '`kvc kube module` for clusters that run the Kernel Module Management operator, `kvc kube daemonset` for the others.',
  examples: ['kvc kube module usbip --image-repo quay.io/me/kvc', 'kvc kube daemonset usbip --image-repo quay.io/me/kvc -o json'],
};

// Adds `kvc kube` and its subcommands to the program.
export function registerKube(program: Command, outcome: Outcome): void {
  const kube = describeCommand(program.command('kube'), KUBE_HELP);
  registerKubeModule(kube, outcome);
  registerKubeDaemonSet(kube, outcome);
}
