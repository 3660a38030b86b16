// Unit tests: every command's help (from the data in its command file, through commander, as
// `kvc <command> --help` prints it), the wrapper's [kver] rule and the did-you-mean used by
// `kvc help`. In-process: the real program, its output captured instead of written.
import { expect } from 'chai';
import { buildProgram } from '../../lib/cli/program.js';
import { commandPath, findCommand } from '../../lib/cli/help.js';
import { splitWrapperWords } from '../../lib/cli/commands/wrapper.js';
import { didYouMean, nearestWords } from '../../lib/cli/did-you-mean.js';

// Every command and subcommand, with the help it prints.
function commandsWithHelp() {
  const program = buildProgram({ status: 0 });
  const all = [program, ...program.commands.flatMap((top) => [top, ...top.commands])];
  return all.map((command) => {
    let text = '';
    command.configureOutput({ writeOut: (chunk) => { text += chunk; }, writeErr: (chunk) => { text += chunk; }, getOutHelpWidth: () => 100 });
    command.outputHelp();
    return { path: commandPath(command), command, text };
  });
}

describe('help for every command', () => {
  const commands = commandsWithHelp();

  it('covers every command and subcommand kvc has', () => {
    expect(commands.map((c) => c.path)).to.include.members(['kvc', 'kvc build', 'kvc load', 'kvc unload', 'kvc reload', 'kvc wrapper', 'kvc status', 'kvc enable', 'kvc disable', 'kvc host-commands', 'kvc service', 'kvc push', 'kvc kube', 'kvc kube module', 'kvc kube daemonset', 'kvc help']);
  });

  for (const { path, command, text } of commands) {
    it(`${path}: a one-line summary, a description without hard line breaks, and examples`, () => {
      expect(command.summary(), 'summary').to.be.a('string').and.not.equal('');
      expect(command.summary()).to.not.include('\n');
      expect(command.description(), 'description').to.have.length.above(40);
      expect(command.description(), 'no hard line breaks: the terminal wraps').to.not.include('\n');
      const examples = /\nExamples:\n((?: {2}\S.*\n?)+)/.exec(text)?.[1]?.trim().split('\n') ?? [];
      expect(examples, 'at least one example').to.have.length.at.least(1);
      for (const example of examples) expect(example.trim(), 'an example is a command line').to.match(/^(kvc|systemctl|kubectl|journalctl) /);
      expect(text).to.include(command.description().slice(0, 30));
    });
  }

  it('the list of commands shows each summary on one line', () => {
    const top = commands.find((c) => c.path === 'kvc');
    for (const { command } of commands.filter((c) => c.command.parent === top.command)) {
      expect(top.text).to.match(new RegExp(`^  ${command.name()}\\b.*${command.summary().slice(0, 20).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'));
    }
  });
});

describe('kvc help <command>', () => {
  const program = buildProgram({ status: 0 });
  it('finds commands and subcommands', () => {
    expect(commandPath(findCommand(program, ['kube', 'module']))).to.equal('kvc kube module');
    expect(commandPath(findCommand(program, []))).to.equal('kvc');
  });
  it('refuses an unknown name with exit 64 and the nearest names', () => {
    const error = (() => { try { findCommand(program, ['stauts']); } catch (e) { return e; } })();
    expect(error.exitStatus).to.equal(64);
    expect(error.message).to.equal("unknown command 'stauts' (did you mean status?)");
    const sub = (() => { try { findCommand(program, ['kube', 'deamonset']); } catch (e) { return e; } })();
    expect(sub.message).to.equal("unknown command 'deamonset' of kvc kube (did you mean daemonset?)");
    const far = (() => { try { findCommand(program, ['xyzzy']); } catch (e) { return e; } })();
    expect(far.message).to.equal("unknown command 'xyzzy'");
  });
});

describe('did you mean', () => {
  const names = ['build', 'load', 'unload', 'reload', 'wrapper', 'status', 'enable', 'disable', 'push', 'kube'];
  it('names the nearest by edits, transpositions counting one', () => {
    expect(nearestWords('biuld', names)).to.deep.equal(['build']);
    expect(nearestWords('statsu', names)).to.deep.equal(['status']);
    expect(nearestWords('lod', names)).to.deep.equal(['load']);
    expect(didYouMean('relaod', names)).to.equal(' (did you mean reload?)');
  });
  it('takes a prefix as close', () => expect(nearestWords('stat', names)).to.deep.equal(['status']));
  it('says nothing when nothing is close', () => {
    expect(didYouMean('frobnicate', names)).to.equal('');
    expect(didYouMean('x', names)).to.equal('');
  });
  it('lists ties', () => expect(didYouMean('laad', ['load', 'lead', 'build'])).to.equal(' (did you mean lead or load?)'));
});

describe('kvc wrapper [kver] <command>: which word is the kernel', () => {
  it('a word that starts like a release (digits, dot, digits) is the kernel', () => {
    expect(splitWrapperWords(['6.1.0-56-amd64', 'usbip', 'list', '-l'])).to.deep.equal({ kver: '6.1.0-56-amd64', command: ['usbip', 'list', '-l'] });
    expect(splitWrapperWords(['6.12.117+deb12-amd64', '/usr/sbin/usbip'])).to.deep.equal({ kver: '6.12.117+deb12-amd64', command: ['/usr/sbin/usbip'] });
  });
  it('anything else is the command, run on the running kernel\'s image', () => {
    expect(splitWrapperWords(['usbip', 'list', '-l'])).to.deep.equal({ kver: undefined, command: ['usbip', 'list', '-l'] });
    expect(splitWrapperWords(['/usr/sbin/usbip', '6.1'])).to.deep.equal({ kver: undefined, command: ['/usr/sbin/usbip', '6.1'] });
    expect(splitWrapperWords(['usbip2'])).to.deep.equal({ kver: undefined, command: ['usbip2'] });
  });
  it('a kernel and no command leaves the command empty (runWrapped refuses it, 64)', () => {
    expect(splitWrapperWords(['6.1.0-56-amd64'])).to.deep.equal({ kver: '6.1.0-56-amd64', command: [] });
  });
});
