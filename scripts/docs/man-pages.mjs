// kvc(8), kvc.conf(5) and kvc-devices(5), rendered from the data the program itself uses: the
// command model (each command's help object and commander definition), the configuration keys
// (src/config/keys.ts), the devices file's sections (src/usbip/devices-file-keys.ts) and the exit
// statuses (src/errors.ts).
import { GLOBAL_KEYS, INSTANCE_KEYS } from '../../lib/config/keys.js';
import { DEVICES_FILE_SECTIONS } from '../../lib/usbip/devices-file-keys.js';
import { EXIT_STATUS_MEANINGS, ExitStatus } from '../../lib/errors.js';
import { bold, escape, header, italic, literal, prose, usage, verbatim } from './roff.mjs';

// The environment variables kvc reads, for kvc(8); a unit test checks that every one src/ reads
// is here.
export const ENVIRONMENT = {
  KVC_CONFIG_DIR: 'The configuration folder when --config-dir is not given (default /etc/kvc).',
  KVC_HOST_ROOT: 'Where the host\'s /sys, /proc, /boot and /lib/modules are (default /), for tests and chroots.',
  KVC_RUN_DIR: 'Locks and run-time records (default /run/kvc).',
  KVC_LOG_DIR: 'Build logs (default /var/log/kvc).',
  KVC_STATE_DIR: 'State kept across boots, such as the tools\' run records (default /var/lib/kvc).',
  KVC_KEY_DIR: 'kvc\'s own module signing key (default /var/lib/kvc/keys).',
  KVC_DKMS_DIR: 'Where DKMS\'s signing key is looked for (default /var/lib/dkms).',
  KVC_RUNNING_KERNEL: 'The release taken as the running kernel (default: uname -r).',
};

const FILES = [
  ['/etc/kvc/kvc.conf', 'kvc\'s own settings, see kvc.conf(5).'],
  ['/etc/kvc/<name>.conf', 'An instance, see kvc.conf(5).'],
  ['/etc/kvc/<name>.devices', 'The devices an instance\'s device manager exports and imports, see kvc-devices(5).'],
  ['/run/kvc/<name>.lock', 'The instance\'s lock: one build, load or unload at a time.'],
  ['/run/kvc/<name>/loaded.json', 'What kvc\'s loads added since boot, unloaded by kvc unload.'],
  ['/var/lib/kvc/<name>/tool-run/<kver>', 'How the host commands run a tool when the instance is not loaded.'],
  ['/var/lib/kvc/keys', 'kvc\'s own module signing key.'],
  ['/var/log/kvc/<name>/', 'Each build\'s full output (the last 3 per kernel).'],
];

// One option as a tagged paragraph.
function optionItem(option) {
  const flags = option.flags.split(/,\s*/).map((flag) => {
    const [name, value] = flag.split(' ');
    return value === undefined ? bold(name) : `${bold(name)} ${italic(value.replace(/[<>[\]]/g, ''))}`;
  }).join(', ');
  const extra = [
    option.choices === undefined ? '' : ` One of: ${option.choices.join(', ')}.`,
    option.defaultValue === undefined || typeof option.defaultValue === 'boolean' ? '' : ` Default: ${option.defaultValue}.`,
  ].join('');
  return `.TP\n${flags}\n${prose(option.description.replace(/^(.)/, (first) => first.toUpperCase()) + (/[.)]$/.test(option.description) ? '' : '.') + extra)}\n`;
}

// A command's section of kvc(8).
function commandSection(command) {
  const path = `kvc ${command.path.join(' ')}`;
  let out = `.SS ${usage(`${path} ${command.usage}`)}\n`;
  if (command.aliases.length > 0) out += `Alias: ${command.aliases.map((alias) => bold(`kvc ${alias}`)).join(', ')}.\n.br\n`;
  out += `${prose(command.help.description)}\n`;
  if (command.subcommands.length > 0) out += `.PP\nSubcommands: ${command.subcommands.map((sub) => bold(sub)).join(', ')}.\n`;
  const own = command.options.filter((option) => option.long !== '--help');
  if (own.length > 0) out += `.PP\nOptions${command.globals ? ' (besides the global options)' : ''}:\n.RS 4\n${own.map(optionItem).join('')}.RE\n`;
  else if (command.globals) out += '.PP\nOptions: the global options.\n';
  out += `.PP\nExamples:\n${verbatim(command.help.examples)}`;
  return out;
}

// kvc(8).
export function kvcPage(model) {
  let out = header('kvc', 8, model.version, 'System Administration');
  out += `.SH NAME\nkvc \\- ${escape(model.help.summary)}\n`;
  out += `.SH SYNOPSIS\n${bold('kvc')} [${italic('options')}] ${italic('command')} [${italic('arguments')}]\n.br\n`;
  out += `${model.commands.filter((command) => command.subcommands.length === 0).map((command) => usage(`kvc ${command.path.join(' ')} ${command.usage.replace(/^\[options\] ?/, '')}`.trim())).join('\n.br\n')}\n`;
  out += `.SH DESCRIPTION\n${prose(model.help.description)}\n`;
  out += `.PP\nkvc runs as the systemd unit ${bold('kvc@')}${italic('name')}${bold('.service')} (${bold('systemctl enable --now kvc@usbip')}), which builds, loads and keeps an image ready for the next kernel.\n`;
  out += `.SH GLOBAL OPTIONS\nGiven before the command, or after it (except for ${bold('wrapper')}, where what follows the tool belongs to the tool).\n${model.globalOptions.map(optionItem).join('')}`;
  out += `.SH COMMANDS\n${model.commands.map(commandSection).join('')}`;
  out += `.SH EXIT STATUS\nOne table for every command (sysexits(3) codes where one fits; ${bold('kvc help exit-status')} prints it):\n`;
  for (const key of Object.keys(ExitStatus)) out += `.TP\n.B ${ExitStatus[key]}\n${prose(EXIT_STATUS_MEANINGS[key])}\n`;
  out += `.SH ENVIRONMENT\n${Object.entries(ENVIRONMENT).map(([name, text]) => `.TP\n.B ${name}\n${prose(text)}\n`).join('')}`;
  out += `.SH FILES\n${FILES.map(([path, text]) => `.TP\n${bold(path)}\n${prose(text)}\n`).join('')}`;
  out += `.SH EXAMPLES\n${verbatim(model.help.examples)}`;
  out += `.SH SEE ALSO\n${bold('kvc.conf')}(5), ${bold('kvc-devices')}(5), ${bold('systemctl')}(1), ${bold('podman')}(1), ${bold('modprobe')}(8), ${bold('usbip')}(8), ${bold('mokutil')}(1)\n`;
  out += '.PP\nThe documentation in /usr/local/share/doc/kvc and the project\'s docs/ folder.\n';
  return out;
}

// One configuration key as a tagged paragraph.
function keyItem([name, text]) {
  return `.TP\n.B ${name}\n${prose(text)}\n`;
}

// kvc.conf(5): every key of kvc.conf and of an instance's .conf.
export function confPage(model) {
  let out = header('kvc.conf', 5, model.version, 'File Formats');
  out += '.SH NAME\nkvc.conf \\- configuration of kvc and of its instances\n';
  out += `.SH SYNOPSIS\n${bold('/etc/kvc/kvc.conf')}\n.br\n${bold('/etc/kvc/')}${italic('name')}${bold('.conf')}\n`;
  out += '.SH DESCRIPTION\n'
    + `${bold('kvc.conf')} holds kvc's own settings; the bash kmods-via-containers' ${bold('kmods-via-containers.conf')} is read first when present, and kvc.conf wins where both set a key.\n`
    + `Each instance ${italic('name')} is one ${italic('name')}${bold('.conf')} in the same folder, compatible with kmods-via-containers instance files.\n`
    + `The folder is /etc/kvc unless ${bold('--config-dir')} or ${bold('KVC_CONFIG_DIR')} names another.\n`
    + '.PP\n'
    + `kvc reads the files with the shell's rules, as ${bold('set -a; . FILE')} in bash does: lines are blank, ${bold('#')} comments or ${bold('[export ]KEY=value [# comment]')}, the value one shell word of plain characters, backslash escapes, single and double quotes.\n`
    + `kvc does not expand ${bold('$VAR')}, ${bold('$(...)')} or ${bold('~')}; it refuses them, as it refuses an unquoted ${bold('; & | < > ( )')}, a second word, a key set twice, a value that continues on the next line or a line that is not KEY=value, naming the file, the line, the key and the fix.\n`
    + '.PP\n'
    + `Every file must be a regular file of at most 64 KiB, owned by root and written by root only, and so must every folder above it be, up to / (a sticky folder such as /tmp is fine); ${bold('kvc check')} lists every fault of every file at once.\n`;
  out += `.SH KVC.CONF KEYS\n${Object.entries(GLOBAL_KEYS).map(keyItem).join('')}`;
  out += `.SH INSTANCE KEYS\nKeys of ${italic('name')}${bold('.conf')}; those marked "kvc only" are not read by the bash kmods-via-containers.\n${Object.entries(INSTANCE_KEYS).map(keyItem).join('')}`;
  out += '.SH EXAMPLE\n'
    + verbatim(['# /etc/kvc/usbip.conf', 'KMOD_CONTAINER_BUILD_CONTEXT="usbip"', 'KMOD_CONTAINER_BUILD_FILE="Containerfile.debian"', 'KMOD_SOFTWARE_VERSION="1.0.0"', 'KMOD_NAMES="usbip-core usbip-host vhci-hcd"', 'KVC_BUILD_ARGS="USBIP_VHCI_NR_HCS=16 USBIP_VHCI_HC_PORTS=15"', 'KVC_HOST_TOOLS="/usr/sbin/usbip /usr/sbin/usbipd"', 'KVC_DEVICE_MANAGER="usbip"']);
  out += `.SH SEE ALSO\n${bold('kvc')}(8), ${bold('kvc-devices')}(5)\n`;
  return out;
}

// kvc-devices(5): the sections and keys of USB/IP's devices file.
export function devicesPage(model) {
  let out = header('kvc-devices', 5, model.version, 'File Formats');
  out += '.SH NAME\nkvc-devices \\- the USB/IP devices an instance exports and imports\n';
  out += `.SH SYNOPSIS\n${bold('/etc/kvc/')}${italic('name')}${bold('.devices')}\n`;
  out += '.SH DESCRIPTION\n'
    + `An instance whose .conf sets ${bold('KVC_DEVICE_MANAGER=usbip')} has its service (${bold('kvc@')}${italic('name')}) manage USB/IP devices on both sides, as this INI file beside the .conf says.\n`
    + 'Without the file the manager does nothing.\n'
    + `The service reads and checks it when it starts, before it loads anything: a file it refuses fails the start with exit 78 and one line naming the section and key; after an edit, run ${bold('systemctl restart kvc@usbip')}.\n`
    + 'The file is checked like the .conf files: root\'s, written by root only.\n'
    + '.PP\n'
    + `A section names one device, and its header stands alone on its line; ${bold(';')} and ${bold('#')} start comments, also after a value.\n`
    + `A section given twice is refused; a device ${italic('NAME')} is letters, digits, "_" and "-".\n`;
  out += '.SH SECTIONS\n';
  for (const section of Object.values(DEVICES_FILE_SECTIONS)) {
    out += `.SS ${literal(section.header)}\n${prose(section.text)}\n.RS 4\n`;
    out += Object.entries(section.keys).map(([key, text]) => `.TP\n${bold(key)} = ${italic('value')}\n${prose(text)}\n`).join('');
    out += '.RE\n';
  }
  out += '.SH EXAMPLES\nOn a server, what it exports (nothing else is ever exported):\n'
    + verbatim(['[export.disk-a]', 'device = 46f4:0001      ; VID:PID (lsusb shows it)', 'serial = KVC-DISK-A     ; optional: only the one with this serial number', 'clients = 10.77.0.2     ; who may attach it (required; any on purpose)', '', '[export.front-port]', 'port = 1-1.2            ; or a port path (bus id)', 'clients = 10.77.0.0/24'])
    + '.PP\nOn a client, what it imports and keeps attached:\n'
    + verbatim(['[import.disk-a]', 'server = 10.77.0.1      ; host or address, optional :port (default 3240)', 'device = 46f4:0001', 'serial = KVC-DISK-A     ; or: busid = 1-2 instead of device/serial', 'container = ctr-a       ; optional: attach it for that container only']);
  out += `.SH SEE ALSO\n${bold('kvc')}(8), ${bold('kvc.conf')}(5), ${bold('usbip')}(8), ${bold('lsusb')}(8)\n`;
  return out;
}
