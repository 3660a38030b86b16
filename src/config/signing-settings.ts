// KVC_SIGN_KEY and KVC_SIGN_CERT of kvc.conf: the module signing key the owner names, checked
// here once for form (the files themselves are read where the key is chosen, src/signing/).
import { ConfigError } from '../errors.js';

// The key pair kvc.conf names.
export interface ConfiguredSigningKey {
  readonly key: string;
  readonly cert: string;
  // The file that set them (errors about the files name it).
  readonly file: string;
}

// An absolute path podman's --secret src=… can take (its options are comma-separated).
const SECRET_PATH = /^\/[^,\0\n]*$/;

// Both keys or neither; absolute paths; a PKCS#11 URI refused with the reason.
export function signingKeyFrom(merged: ReadonlyMap<string, { value: string; file: string }>): ConfiguredSigningKey | undefined {
  const key = merged.get('KVC_SIGN_KEY');
  const cert = merged.get('KVC_SIGN_CERT');
  const keyValue = key?.value.trim() ?? '';
  const certValue = cert?.value.trim() ?? '';
  if (keyValue === '' && certValue === '') return undefined;
  if (keyValue === '') throw new ConfigError(cert!.file, 'KVC_SIGN_KEY', 'is missing, but KVC_SIGN_CERT is set', { hint: 'set both (the private key and its certificate), or neither to let kvc use its own key' });
  if (certValue === '') throw new ConfigError(key!.file, 'KVC_SIGN_CERT', 'is missing, but KVC_SIGN_KEY is set', { hint: 'set KVC_SIGN_CERT to the certificate of that key (PEM or DER)' });
  if (/^pkcs11:/i.test(keyValue)) {
    throw new ConfigError(key!.file, 'KVC_SIGN_KEY', 'is a PKCS#11 URI: kvc signs inside the container build, which cannot reach a token on the host', {
      hint: 'name a PEM key file (root-only), or leave KVC_SIGN_KEY and KVC_SIGN_CERT unset to use kvc\'s own key',
    });
  }
  for (const [entry, name, value] of [[key!, 'KVC_SIGN_KEY', keyValue], [cert!, 'KVC_SIGN_CERT', certValue]] as const) {
    if (!SECRET_PATH.test(value) || value.split('/').includes('..')) {
      throw new ConfigError(entry.file, name, `${JSON.stringify(value)} is not an absolute path without ".." or ","`, { hint: `write e.g. ${name}=/root/module-signing/${name === 'KVC_SIGN_KEY' ? 'key.pem' : 'cert.der'}` });
    }
  }
  return { key: keyValue, cert: certValue, file: key!.file };
}
