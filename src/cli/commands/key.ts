// `kvc key status|create|enroll|export`: the module signing key for Secure Boot hosts.
import { writeFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import type { Command } from 'commander';
import { keyLocations } from '../../ops/context.js';
import { SigningKeyError } from '../../errors.js';
import { createKvcKey } from '../../signing/create-key.js';
import { describeSource } from '../../signing/key-choice.js';
import { enrollKey } from '../../signing/enroll.js';
import { formatKeyStatus, gatherKeyStatus } from '../../signing/key-status.js';
import { findSigningKey } from '../../signing/signing-key.js';
import type { Session } from '../../ops/session.js';
import { withSession, type Outcome } from '../command-kit.js';
import { describeCommand, type CommandHelp } from '../help.js';

// The commands' help, as data.
export const KEY_HELP: CommandHelp = {
  summary: 'the module signing key: status, create, enroll (MokManager), export',
  description:
    'kvc signs the modules it builds with one key, chosen in this order: KVC_SIGN_KEY/KVC_SIGN_CERT of kvc.conf; '
    + 'kvc\'s own key (/var/lib/kvc/keys); DKMS\'s key (/var/lib/dkms/mok.key, mok.pub); else none, and kvc creates its '
    + 'own when the running kernel refuses unsigned modules (Secure Boot, lockdown, module.sig_enforce) or on `kvc key create`. '
    + 'On a Secure Boot host the kernel trusts that key once it is enrolled: `kvc key enroll`, reboot, confirm in MokManager.',
  examples: ['kvc key status', 'kvc key create', 'kvc key enroll', 'kvc key export > kvc-signing.pem'],
};

// `kvc key status`'s help.
export const KEY_STATUS_HELP: CommandHelp = {
  summary: 'say whether Secure Boot and lockdown are on, which key kvc signs with, whether it is enrolled, and what to do next',
  description: 'Reads the EFI SecureBoot variable, /sys/kernel/security/lockdown, the kernel\'s trusted keyrings (/proc/keys, keyctl) and mokutil\'s lists, '
    + 'then names the key kvc signs with (and where it comes from), whether the running kernel trusts it, is asked to (pending MOK enrolment), or does not, and the next step.',
  examples: ['kvc key status', 'kvc key status --json'],
};

// `kvc key create`'s help.
export const KEY_CREATE_HELP: CommandHelp = {
  summary: 'create kvc\'s own signing key (openssl; root-only under /var/lib/kvc/keys)',
  description: 'Makes an RSA key and a self-signed X.509 certificate with the code-signing extended key usage (what the kernel\'s sign-file and mokutil expect), '
    + 'in a folder only root may read. An existing key is kept unless --replace (the old files are kept beside it); a new key must be enrolled again.',
  examples: ['kvc key create', 'kvc key create --replace'],
};

// `kvc key enroll`'s help.
export const KEY_ENROLL_HELP: CommandHelp = {
  summary: 'queue the signing key for shim\'s MOK list (mokutil --import): the next boot asks you to confirm it in MokManager',
  description: 'Runs mokutil --import with the key\'s certificate and a one-time password, printed once (or typed by you with --ask-password). '
    + 'At the next boot shim starts MokManager: choose "Enroll MOK", "Continue", "Yes", type the password, then "Reboot". kvc key status then says enrolled.',
  examples: ['kvc key enroll', 'kvc key enroll --ask-password'],
};

// `kvc key export`'s help.
export const KEY_EXPORT_HELP: CommandHelp = {
  summary: 'print the signing key\'s certificate (never the private key), e.g. to enrol it elsewhere or give it to a cluster',
  description: 'Prints the certificate of the key kvc signs with, as PEM (or DER with --der), to standard output or to a file. The private key is never printed.',
  examples: ['kvc key export > kvc-signing.pem', 'kvc key export --der -o kvc-signing.der'],
};

// Adds `kvc key` and its subcommands to the program.
export function registerKey(program: Command, outcome: Outcome): void {
  const key = describeCommand(program.command('key'), KEY_HELP);

  describeCommand(key.command('status'), KEY_STATUS_HELP)
    .option('--json', 'print JSON (stable field names)')
    .action(withSession(outcome, async (session, options: { json?: boolean }) => {
      const status = await gatherKeyStatus(session.ctx.hostRoot, session.global.signingKey, keyLocations(session.ctx));
      process.stdout.write(options.json === true ? `${JSON.stringify(status, null, 2)}\n` : `${formatKeyStatus(status)}\n`);
    }));

  describeCommand(key.command('create'), KEY_CREATE_HELP)
    .option('--replace', 'make a new key even though one exists (the old files are kept as *.replaced-<time>; the new key must be enrolled again)')
    .action(withSession(outcome, async (session, options: { replace?: boolean }) => {
      const created = await createKvcKey(keyLocations(session.ctx), { replace: options.replace === true });
      process.stdout.write(`created ${created.certificate.subject} (key id ${created.certificate.keyId}): ${created.key}, certificate ${created.cert}\n`);
      const used = await findSigningKey(session.global.signingKey, keyLocations(session.ctx));
      if (used !== undefined && used.key !== created.key) process.stdout.write(`note: kvc signs with ${describeSource(used.source)} (${used.key}), which comes first; this key is used once that is unset\n`);
      else process.stdout.write('next: kvc key enroll, then reboot (on a Secure Boot host); kvc key status says where the key stands\n');
    }, { dryRun: { refuse: 'it makes a key; kvc key status says whether there is one and where' } }));

  describeCommand(key.command('enroll'), KEY_ENROLL_HELP)
    .option('--ask-password', 'type the one-time password yourself (mokutil asks) instead of getting one printed once')
    .action(withSession(outcome, async (session, options: { askPassword?: boolean }) => {
      const signing = await currentKey(session);
      await enrollKey(signing, { ask: options.askPassword === true, hostRoot: session.ctx.hostRoot, print: (text) => process.stdout.write(`${text}\n`) });
    }, { dryRun: { refuse: 'it queues the key in the firmware (mokutil --import); kvc key status says where the key stands' } }));

  describeCommand(key.command('export'), KEY_EXPORT_HELP)
    .option('--der', 'DER instead of PEM')
    .option('-o, --output <file>', 'write it to this file instead of standard output')
    .action(withSession(outcome, async (session, options: { der?: boolean; output?: string }) => {
      const signing = await currentKey(session);
      const bytes = options.der === true ? signing.certificate.der : Buffer.from(new X509Certificate(signing.certificate.der).toString());
      if (options.output !== undefined) await writeFile(options.output, bytes, { mode: 0o644 });
      else process.stdout.write(bytes);
    }, { dryRun: { refuse: 'it only prints or writes the certificate: run it without --dry-run, without -o to see it' } }));
}

// The key kvc signs with; none yet is an error saying how to make one.
async function currentKey(session: Session) {
  const signing = await findSigningKey(session.global.signingKey, keyLocations(session.ctx));
  if (signing === undefined) throw new SigningKeyError(undefined, 'there is no signing key yet', { hint: 'create one: kvc key create' });
  return signing;
}
