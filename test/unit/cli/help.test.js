// Unit tests: every command's help (from the data in its command file, through commander, as
// `kvc <command> --help` prints it; in-process, its output captured), `kvc help <command>`, the
// wrapper's [kver] rule, and the usage errors of the real CLI (lib/cli/main.js run as a child
// process: no container runtime is reached).
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../../lib/cli/program.js';
import { commandPath, findCommand } from '../../../lib/cli/help.js';
import { splitWrapperWords } from '../../../lib/cli/commands/wrapper.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const kvc = (args, env = {}) => spawnSync(process.execPath, [join(ROOT, 'lib/cli/main.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

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
    expect(commands.map((c) => c.path)).to.include.members(['kvc', 'kvc build', 'kvc load', 'kvc unload', 'kvc reload', 'kvc wrapper', 'kvc status', 'kvc enable', 'kvc disable', 'kvc host-commands', 'kvc service', 'kvc push', 'kvc kube', 'kvc kube module', 'kvc kube daemonset', 'kvc help', 'kvc check']);
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
    expect(commandPath(findCommand(program, ['doctor']))).to.equal('kvc check');
    expect(commandPath(findCommand(program, []))).to.equal('kvc');
  });
  it('says where an unknown name stopped it, with the nearest name', () => {
    expect(findCommand(program, ['stauts'])).to.include({ at: program, message: "unknown command 'stauts' (did you mean status?)" });
    const sub = findCommand(program, ['kube', 'deamonset']);
    expect(commandPath(sub.at)).to.equal('kvc kube');
    expect(sub.message).to.equal("unknown command 'deamonset' (did you mean daemonset?)");
    expect(findCommand(program, ['xyzzy']).message).to.equal("unknown command 'xyzzy'");
  });
});

describe('command line: usage errors of the real CLI', function () {
  this.timeout(20000);
  it('kvc alone prints the usage on stderr and exits 64; so does a command that needs a subcommand', () => {
    let result = kvc([]);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.match(/^Usage: kvc /);
    result = kvc(['kube']);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.match(/^Usage: kvc kube /);
  });
  it('an unknown command: did you mean, one line, 64; also after help, and for a subcommand', () => {
    let result = kvc(['buidl']);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.equal("kvc: unknown command 'buidl' (did you mean build?); see kvc --help\n");
    result = kvc(['help', 'statsu']);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.equal("kvc: unknown command 'statsu' (did you mean status?); see kvc --help\n");
    result = kvc(['help', 'nosuch']);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.equal("kvc: unknown command 'nosuch'; see kvc --help\n");
    result = kvc(['help', 'kube', 'modul']);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.equal("kvc: unknown command 'modul' (did you mean module?); see kvc kube --help\n");
    result = kvc(['kube', 'modul']);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.equal("kvc: unknown command 'modul' (did you mean module?); see kvc kube --help\n");
  });
  it('help that was asked for exits 0, on stdout', () => {
    for (const args of [['help'], ['--help'], ['help', 'kube', 'module'], ['build', '--help'], ['help', 'exit-status']]) {
      const result = kvc(args);
      expect(result.status, args.join(' ')).to.equal(0);
      expect(result.stdout, args.join(' ')).to.not.equal('');
    }
  });
  it('a configuration folder that does not exist: 66, naming it and where it came from', () => {
    let result = kvc(['--config-dir', '/nonexistent-kvc', 'status']);
    expect(result.status).to.equal(66);
    expect(result.stderr).to.match(/the configuration folder \/nonexistent-kvc \(--config-dir\) does not exist/);
    result = kvc(['status'], { KVC_CONFIG_DIR: '/nonexistent-kvc' });
    expect(result.status).to.equal(66);
    expect(result.stderr).to.include('(KVC_CONFIG_DIR)');
  });
  it('--dry-run: refused by commands whose work systemd does (64), before anything is asked', () => {
    const result = kvc(['--config-dir', '/nonexistent-kvc', '--dry-run', 'enable', 'usbip', '--now']);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.match(/--dry-run: kvc enable has none: systemd does the work/);
  });
});

describe('--dry-run never changes the host through kvc key', () => {
  // The attack (review of this round): `kvc --dry-run key create` made a key, `key enroll` queued
  // it in the firmware's MOK list, `key export -o` wrote the file.
  for (const [args, what] of [[['key', 'create'], 'kvc key create'], [['key', 'enroll'], 'kvc key enroll'], [['key', 'export', '-o', 'OUT'], 'kvc key export']]) {
    it(`${what} --dry-run: refused (64), nothing made`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'kvc-dry-key-'));
      try {
        const keys = join(dir, 'keys');
        const out = join(dir, 'exported.pem');
        const result = kvc(['--config-dir', join(ROOT, 'host/etc/kvc'), '--dry-run', ...args.map((arg) => (arg === 'OUT' ? out : arg))], { KVC_KEY_DIR: keys });
        expect(result.status, result.stderr).to.equal(64);
        expect(result.stderr).to.match(new RegExp(`--dry-run: ${what} has none`));
        expect(existsSync(keys), 'no key folder made').to.equal(false);
        expect(existsSync(out), 'nothing exported').to.equal(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
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

describe('a reader that closes the pipe early (`kvc build --help | head -1`)', () => {
  it('kvc stops quietly: no EPIPE stack trace, exit status 0', async () => {
    const { spawn } = await import('node:child_process');
    // The shell's own pipe into `head -c 1`, which exits after one byte: kvc's later writes hit a
    // closed pipe (the help is longer than a pipe write of one byte).
    const child = spawn('sh', ['-c', `"$0" "$1" build --help | head -c 1 >/dev/null; echo "kvc:$?" >&2`, process.execPath, join(ROOT, 'lib/cli/main.js')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    await new Promise((resolve) => child.on('close', resolve));
    expect(stderr).to.not.match(/EPIPE|Unhandled|at /);
    expect(stderr).to.contain('kvc:0');
  });
});
