// Unit tests: every command's help (summary, a paragraph of description, examples) and the usage
// errors of the command line itself, on the real program (lib/cli) run as a child process.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../../lib/cli/program.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const kvc = (args, env = {}) => spawnSync(process.execPath, [join(ROOT, 'lib/cli/main.js'), ...args], { encoding: 'utf8', env: { ...process.env, ...env } });

describe('command line: help and usage errors', () => {
  const program = buildProgram({ status: 0 });
  const commands = program.commands.flatMap((top) => [top, ...top.commands.filter((sub) => sub.name() !== 'help')]);
  for (const command of commands) {
    const name = command.parent === program ? command.name() : `${command.parent.name()} ${command.name()}`;
    it(`kvc ${name} --help: a summary, a description without hard line breaks, examples`, () => {
      expect(command.summary(), 'summary').to.not.equal('');
      expect(command.description(), 'description').to.not.include('\n');
      const help = kvc([...name.split(' '), '--help']);
      expect(help.status).to.equal(0);
      expect(help.stdout).to.match(/\nExamples:\n {2}kvc |\nExamples:\n {2}systemctl /);
    });
  }
  it('kvc alone prints the usage on stderr and exits 64', () => {
    const result = kvc([]);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.match(/^Usage: kvc /);
  });
  it('an unknown command: did you mean, one line, 64; also after help', () => {
    let result = kvc(['buidl']);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.equal("kvc: unknown command 'buidl' (did you mean build?); see kvc --help\n");
    result = kvc(['help', 'statsu']);
    expect(result.status).to.equal(64);
    expect(result.stderr).to.equal("kvc: unknown command 'statsu' (did you mean status?); see kvc --help\n");
    result = kvc(['help', 'nosuch']);
    expect(result.stderr).to.equal("kvc: unknown command 'nosuch'; see kvc --help\n");
    expect(kvc(['help', 'kube', 'module']).status).to.equal(0);
  });
  it('a configuration folder that does not exist: 66, naming it and where it came from', () => {
    let result = kvc(['--config-dir', '/nonexistent-kvc', 'status']);
    expect(result.status).to.equal(66);
    expect(result.stderr).to.match(/the configuration folder \/nonexistent-kvc \(--config-dir\) does not exist/);
    result = kvc(['status'], { KVC_CONFIG_DIR: '/nonexistent-kvc' });
    expect(result.status).to.equal(66);
    expect(result.stderr).to.include('(KVC_CONFIG_DIR)');
  });
});
