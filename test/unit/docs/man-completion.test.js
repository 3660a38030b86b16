// Unit tests: the manual pages and the shell completions scripts/gen-docs.mjs writes from the
// program's own definitions. The pages hold every command, option and key and render without a
// warning (man -l, where man is installed); the bash completion is sourced into a real bash and
// asked as the shell asks it (COMP_WORDS, COMP_CWORD), with instances from a temporary config
// folder and kernels from a temporary KVC_HOST_ROOT; the zsh one is run by a real zsh with
// compadd replaced by a stub that prints what it is given.
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GLOBAL_KEYS, INSTANCE_KEYS } from '../../../lib/config/keys.js';
import { DEVICES_FILE_SECTIONS } from '../../../lib/usbip/devices-file-keys.js';
import { parseDevicesFile } from '../../../lib/usbip/devices-file.js';
import { commandModel } from '../../../scripts/docs/model.mjs';
import { ENVIRONMENT } from '../../../scripts/docs/man-pages.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const has = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

describe('man pages and completions (scripts/gen-docs.mjs)', function () {
  this.timeout(60000);
  let out;
  let model;
  const page = (name) => readFileSync(join(out, 'man', name), 'utf8');
  // The roff with its escapes undone, as words a reader sees.
  const plain = (name) => page(name).replace(/\\f[BIR]/g, '').replace(/\\-/g, '-').replace(/\\e/g, '\\').replace(/\\&/g, '');

  before(() => {
    out = mkdtempSync(join(tmpdir(), 'kvc-gen-docs-'));
    const result = spawnSync(process.execPath, [join(ROOT, 'scripts/gen-docs.mjs'), out], { cwd: ROOT, encoding: 'utf8' });
    expect(result.status, result.stderr).to.equal(0);
    model = commandModel();
  });
  after(() => rmSync(out, { recursive: true, force: true }));

  it('writes the three pages and the two completions', () => {
    expect(readdirSync(join(out, 'man/man8'))).to.deep.equal(['kvc.8']);
    expect(readdirSync(join(out, 'man/man5')).sort()).to.deep.equal(['kvc-devices.5', 'kvc.conf.5']);
    expect(readdirSync(join(out, 'completion')).sort()).to.deep.equal(['_kvc', 'kvc.bash']);
  });

  it('kvc(8) has every command and subcommand, its options, examples, the exit statuses', () => {
    const text = plain('man8/kvc.8');
    expect(model.commands.length).to.be.at.least(20);
    for (const command of model.commands) {
      expect(text, command.path.join(' ')).to.include(`.SS kvc ${command.path.join(' ')} `);
      for (const option of command.options) expect(text, `${command.path.join(' ')} ${option.flags}`).to.include(option.long);
      for (const example of command.help.examples) expect(text, example).to.include(example);
      for (const alias of command.aliases) expect(text).to.include(`Alias: kvc ${alias}`);
    }
    for (const option of model.globalOptions) expect(text).to.include(option.flags.split(' ')[0]);
    for (const status of [0, 64, 65, 66, 69, 70, 75, 77, 78, 130]) expect(text).to.match(new RegExp(`^\\.B ${status}$`, 'm'));
  });

  it('kvc(8) names every environment variable src/ reads', () => {
    const read = new Set();
    const walk = (dir) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.isDirectory()) walk(join(dir, entry.name));
        else if (entry.name.endsWith('.ts')) for (const found of readFileSync(join(dir, entry.name), 'utf8').matchAll(/env(?:\.|\[')(KVC_[A-Z_]+)/g)) read.add(found[1]);
      }
    };
    walk(join(ROOT, 'src'));
    // The tests' own switches, which the shipped bundle does not have.
    for (const name of ['KVC_TEST_INSECURE_FILES']) read.delete(name);
    expect([...read].filter((name) => !(name in ENVIRONMENT))).to.deep.equal([]);
    expect(read.size).to.be.at.least(5);
    for (const name of Object.keys(ENVIRONMENT)) expect(plain('man8/kvc.8')).to.include(`.B ${name}\n`);
  });

  it('kvc.conf(5) has every key of kvc.conf and of an instance, and docs/configuration.md too', () => {
    const text = plain('man5/kvc.conf.5');
    const docs = readFileSync(join(ROOT, 'docs/configuration.md'), 'utf8');
    for (const key of [...Object.keys(GLOBAL_KEYS), ...Object.keys(INSTANCE_KEYS)]) {
      expect(text, key).to.include(`.B ${key}\n`);
      expect(docs, key).to.match(new RegExp(`^\\| [^|]+ \\| [^|]*\`${key}\``, 'm'));
    }
  });

  it('kvc-devices(5) has every section and key the parser takes, and its examples parse', () => {
    const text = plain('man5/kvc-devices.5');
    for (const section of Object.values(DEVICES_FILE_SECTIONS)) {
      expect(text).to.include(`.SS ${section.header}`);
      for (const key of Object.keys(section.keys)) expect(text, key).to.match(new RegExp(`^${key} = value$`, 'm'));
    }
    // A key the page does not list is one the parser refuses, naming the keys it does take.
    let refused;
    try { parseDevicesFile('/x.devices', '[import.a]\nserver = h\ndevice = 46f4:0001\nport = 1\n'); } catch (error) { refused = error; }
    expect(refused?.message).to.match(/\[import\.a\] port: is not a key of this section/);
    expect(refused?.hint).to.equal('keys here: server, device, serial, busid, container, list-port');
    const examples = [...text.matchAll(/^\.nf\n([\s\S]*?)^\.fi$/gm)].map((found) => found[1]);
    expect(examples).to.have.length(2);
    expect(parseDevicesFile('/x.devices', examples[0]).exports.map((rule) => rule.name)).to.deep.equal(['disk-a', 'front-port']);
    expect(parseDevicesFile('/x.devices', examples[1]).imports[0]).to.deep.include({ name: 'disk-a', server: '10.77.0.1', container: 'ctr-a' });
  });

  for (const name of ['man8/kvc.8', 'man5/kvc.conf.5', 'man5/kvc-devices.5']) {
    it(`man renders ${name} without a warning`, function () {
      if (!has('man')) this.skip();
      const result = spawnSync('man', ['--warnings', '-l', join(out, 'man', name)], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat', LC_ALL: 'C.UTF-8' } });
      expect(result.status, result.stderr).to.equal(0);
      expect(result.stderr).to.equal('');
      expect(result.stdout).to.match(/^NAME\n/m);
      expect(result.stdout.length).to.be.above(1000);
    });
  }

  describe('bash completion, in a real bash', () => {
    let fake;
    before(() => {
      fake = mkdtempSync(join(tmpdir(), 'kvc-complete-'));
      for (const [dir, names] of [['etc-kvc', ['kvc.conf', 'usbip.conf', 'zfs.conf', 'usbip.devices']], ['other', ['other-one.conf']]]) {
        mkdirSync(join(fake, dir));
        for (const file of names) writeFileSync(join(fake, dir, file), '');
      }
      for (const kernel of ['6.1.0-56-amd64', '6.12.117+deb12-amd64']) mkdirSync(join(fake, 'root/lib/modules', kernel), { recursive: true });
      mkdirSync(join(fake, 'root/usr/lib/modules/6.1.0-56-cloud-amd64'), { recursive: true });
    });
    after(() => rmSync(fake, { recursive: true, force: true }));

    // What `kvc <words><TAB>` offers: the last word is the one being completed.
    const complete = (...words) => {
      const script = `source "$1"; shift; COMP_WORDS=(kvc "$@"); COMP_CWORD=$#; _kvc; printf '%s\\n' "\${COMPREPLY[@]}"`;
      const result = spawnSync('bash', ['--norc', '--noprofile', '-c', script, 'bash', join(out, 'completion/kvc.bash'), ...words], {
        encoding: 'utf8', env: { PATH: process.env.PATH, KVC_CONFIG_DIR: join(fake, 'etc-kvc'), KVC_HOST_ROOT: join(fake, 'root') },
      });
      expect(result.stderr).to.equal('');
      return result.stdout.split('\n').filter(Boolean).sort();
    };

    it('kvc <TAB>: every command', () => {
      expect(complete('')).to.deep.equal(model.commands.filter((command) => command.path.length === 1).flatMap((command) => [command.name, ...command.aliases]).sort());
      expect(complete('re')).to.deep.equal(['reload']);
    });

    it('kvc load <TAB>: the instances of the config folder (not kvc.conf), --config-dir honoured', () => {
      expect(complete('load', '')).to.deep.equal(['usbip', 'zfs']);
      expect(complete('load', 'u')).to.deep.equal(['usbip']);
      expect(complete('--config-dir', join(fake, 'other'), 'load', '')).to.deep.equal(['other-one']);
      expect(complete('load', `--config-dir=${join(fake, 'other')}`, '')).to.deep.equal(['other-one']);
    });

    it('kvc load usbip <TAB>: the installed kernels', () => {
      expect(complete('load', 'usbip', '')).to.deep.equal(['6.1.0-56-amd64', '6.1.0-56-cloud-amd64', '6.12.117+deb12-amd64']);
      expect(complete('build', '-f', 'usbip', '6.12')).to.deep.equal(['6.12.117+deb12-amd64']);
      expect(complete('load', 'usbip', '6.1.0-56-amd64', '')).to.deep.equal([]);
    });

    it('subcommands, options and their values', () => {
      expect(complete('kube', '')).to.deep.equal(['daemonset', 'module']);
      expect(complete('kube', 'module', '')).to.deep.equal(['usbip', 'zfs']);
      expect(complete('key', '')).to.deep.equal(['create', 'enroll', 'export', 'status']);
      expect(complete('build', '--')).to.include.members(['--force', '--no-wait', '--config-dir', '--dry-run', '--help']);
      expect(complete('build', '--')).not.to.include('--json');
      expect(complete('--runtime', '')).to.deep.equal(['docker', 'podman']);
      expect(complete('kube', 'daemonset', 'usbip', '-o', '')).to.deep.equal(['json', 'yaml']);
      expect(complete('kube', 'daemonset', 'usbip', '--kernel', '6.1.0-56-c')).to.deep.equal(['6.1.0-56-cloud-amd64']);
      expect(complete('help', 'ex')).to.deep.equal(['exit-status']);
      expect(complete('doctor', '')).to.deep.equal(['usbip', 'zfs']);
    });
  });

  describe('zsh completion', () => {
    it('is valid zsh (zsh -n)', function () {
      if (!has('zsh')) this.skip();
      const result = spawnSync('zsh', ['-n', join(out, 'completion/_kvc')], { encoding: 'utf8' });
      expect(result.status, result.stderr).to.equal(0);
    });

    it('offers commands, instances and kernels in a real zsh (compadd stubbed)', function () {
      if (!has('zsh')) this.skip();
      const fake = mkdtempSync(join(tmpdir(), 'kvc-zsh-'));
      writeFileSync(join(fake, 'usbip.conf'), '');
      writeFileSync(join(fake, 'kvc.conf'), '');
      mkdirSync(join(fake, 'lib/modules/6.1.0-56-amd64'), { recursive: true });
      const ask = (...line) => {
        const script = `compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }; _files() { :; }
          words=(kvc "\${@:2}"); CURRENT=$#; PREFIX=\${words[CURRENT]}; source "$1"`;
        const result = spawnSync('zsh', ['-f', '-c', script, 'zsh', join(out, 'completion/_kvc'), ...line], { encoding: 'utf8', env: { PATH: process.env.PATH, KVC_CONFIG_DIR: fake, KVC_HOST_ROOT: fake } });
        expect(result.stderr).to.equal('');
        return result.stdout.split('\n').filter(Boolean).sort();
      };
      try {
        expect(ask('')).to.include.members(['build', 'load', 'kube', 'doctor']);
        expect(ask('load', '')).to.deep.equal(['usbip']);
        expect(ask('load', 'usbip', '')).to.deep.equal(['6.1.0-56-amd64']);
        expect(ask('kube', '')).to.deep.equal(['daemonset', 'module']);
      } finally {
        rmSync(fake, { recursive: true, force: true });
      }
    });
  });
});
