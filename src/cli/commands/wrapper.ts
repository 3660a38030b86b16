// `kvc wrapper <name> [kver] <command> [args...]`
import type { Command } from 'commander';
import { runWrapped } from '../../ops/wrapper.js';
import { kernelOf, withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// The command's help, as data.
export const WRAPPER_HELP: CommandHelp = {
  summary: 'run a userspace tool from the instance\'s image',
  description:
    'Runs <command> from the image for <kver>, with the host\'s network, /sys and /dev; stdin, stdout, stderr and the exit status pass through unchanged. '
    + 'While the instance is loaded the command runs in the tools container (no container start); otherwise in a new container. '
    + '<kver> may be left out: the running kernel\'s image is used. A word right after <name> that starts like a kernel release (digits, a dot, digits: 6.1.0-56-amd64) is taken as <kver>, anything else as the command.',
  examples: ['kvc wrapper usbip usbip list -l', 'kvc wrapper usbip 6.1.0-56-amd64 usbip version', 'kvc wrapper usbip /usr/sbin/usbip attach -r 10.0.0.2 -b 1-1'],
};

// A kernel release starts "<major>.<minor>"; no tool's name does.
const LOOKS_LIKE_RELEASE = /^\d+\.\d+/;

// Splits what follows <name>: [kver] <command> [args…]. Pure.
export function splitWrapperWords(words: readonly string[]): { kver: string | undefined; command: string[] } {
  const [first, ...rest] = words;
  if (first !== undefined && LOOKS_LIKE_RELEASE.test(first)) return { kver: first, command: rest };
  return { kver: undefined, command: [...words] };
}

// Adds `kvc wrapper` to the program.
export function registerWrapper(program: Command, outcome: Outcome): void {
  describeCommand(program.command('wrapper'), WRAPPER_HELP)
    .usage('[options] <name> [kver] <command> [args...]')
    .argument('<name>', 'instance name')
    .argument('<command...>', '[kver] (default: the running kernel), then the tool to run (e.g. usbip) and its arguments, passed on as they are')
    .passThroughOptions()
    .action(withSession(outcome, async (session, name: string, words: string[]) => {
      const { kver, command } = splitWrapperWords(words);
      return runWrapped(session.ctx, await session.instance(name), kernelOf(session, kver), command);
    }));
}
