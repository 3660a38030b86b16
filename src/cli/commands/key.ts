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

// The commands' help, as data.
export const KEY_HELP = {
  summary: 'the module signing key: status, create, enroll (MokManager), export',
  description:
    'kvc signs the modules it builds with one key, chosen in this order: KVC_SIGN_KEY/KVC_SIGN_CERT of kvc.conf;\n'
    + 'kvc\'s own key (/var/lib/kvc/keys); DKMS\'s key (/var/lib/dkms/mok.key, mok.pub); else none, and kvc creates its\n'
    + 'own when the running kernel refuses unsigned modules (Secure Boot, lockdown, module.sig_enforce) or on `kvc key create`.\n'
    + 'On a Secure Boot host the kernel trusts that key once it is enrolled: `kvc key enroll`, reboot, confirm in MokManager.',
  examples: ['kvc key status', 'kvc key create', 'kvc key enroll', 'kvc key export > kvc-signing.pem'],
} as const;

export function registerKey(program: Command, outcome: Outcome): void {
  const key = program.command('key').summary(KEY_HELP.summary).description(KEY_HELP.description)
    .addHelpText('after', `\nExamples:\n${KEY_HELP.examples.map((line) => `  ${line}`).join('\n')}`);

  key.command('status')
    .summary('say whether Secure Boot and lockdown are on, which key kvc signs with, whether it is enrolled, and what to do next')
    .option('--json', 'print JSON (stable field names)')
    .action(withSession(outcome, async (session, options: { json?: boolean }) => {
      const status = await gatherKeyStatus(session.ctx.hostRoot, session.global.signingKey, keyLocations(session.ctx));
      process.stdout.write(options.json === true ? `${JSON.stringify(status, null, 2)}\n` : `${formatKeyStatus(status)}\n`);
    }));

  key.command('create')
    .summary('create kvc\'s own signing key (openssl; root-only under /var/lib/kvc/keys)')
    .option('--replace', 'make a new key even though one exists (the old files are kept as *.replaced-<time>; images are rebuilt, and the new key must be enrolled)')
    .action(withSession(outcome, async (session, options: { replace?: boolean }) => {
      const created = await createKvcKey(keyLocations(session.ctx), { replace: options.replace === true });
      process.stdout.write(`created ${created.certificate.subject} (key id ${created.certificate.keyId}): ${created.key}, certificate ${created.cert}\n`);
      const used = await findSigningKey(session.global.signingKey, keyLocations(session.ctx));
      if (used !== undefined && used.key !== created.key) process.stdout.write(`note: kvc signs with ${describeSource(used.source)} (${used.key}), which comes first; this key is used once that is unset\n`);
      else process.stdout.write('next: kvc key enroll, then reboot (on a Secure Boot host); kvc key status says where the key stands\n');
    }));

  key.command('enroll')
    .summary('queue the signing key for shim\'s MOK list (mokutil --import): the next boot asks you to confirm it in MokManager')
    .option('--ask-password', 'type the one-time password yourself (mokutil asks) instead of getting one printed once')
    .action(withSession(outcome, async (session, options: { askPassword?: boolean }) => {
      const signing = await currentKey(session);
      await enrollKey(signing, { ask: options.askPassword === true, hostRoot: session.ctx.hostRoot, print: (text) => process.stdout.write(`${text}\n`) });
    }));

  key.command('export')
    .summary('print the signing key\'s certificate (never the private key), e.g. to enrol it elsewhere or give it to a cluster')
    .option('--der', 'DER instead of PEM')
    .option('-o, --output <file>', 'write it to this file instead of standard output')
    .action(withSession(outcome, async (session, options: { der?: boolean; output?: string }) => {
      const signing = await currentKey(session);
      const bytes = options.der === true ? signing.certificate.der : Buffer.from(new X509Certificate(signing.certificate.der).toString());
      if (options.output !== undefined) await writeFile(options.output, bytes, { mode: 0o644 });
      else process.stdout.write(bytes);
    }));
}

// The key kvc signs with; none yet is an error saying how to make one.
async function currentKey(session: Session) {
  const signing = await findSigningKey(session.global.signingKey, keyLocations(session.ctx));
  if (signing === undefined) throw new SigningKeyError(undefined, 'there is no signing key yet', { hint: 'create one: kvc key create' });
  return signing;
}
