// Runs the host's nft with a whole ruleset text on stdin (`nft -f -`): one transaction, applied
// entirely or not at all. Only kvc's own table is named in what it is given (firewall-plan.ts).
import { execa } from 'execa';
import { ExitStatus, KvcError } from '../errors.js';
import { findOnPath } from '../host/find-on-path.js';

// nft is given this long.
const NFT_TIMEOUT_MS = 20_000;

// nftables is missing, or refused kvc's rules: exports are not served unguarded.
export class FirewallError extends KvcError {
  override readonly exitStatus = ExitStatus.unavailable;
}

// Applies `text` as one transaction. `nft` is the command and its leading arguments (default: the
// nft on PATH or in /usr/sbin); throws FirewallError with nft's own words.
export async function applyRuleset(text: string, options: { nft?: readonly string[]; signal?: AbortSignal } = {}): Promise<void> {
  const nft = options.nft ?? [findOnPath('nft') ?? findOnPath('nft', '/usr/sbin:/sbin') ?? ''];
  if (nft[0] === '') {
    throw new FirewallError('nft is not installed: kvc guards the USB/IP exports with nftables rules and will not export without them', { hint: 'install nftables (Debian: apt install nftables; Fedora: dnf install nftables), or write clients = any for every export to serve them unguarded' });
  }
  const result = await execa(nft[0]!, [...nft.slice(1), '-f', '-'], { input: text, reject: false, timeout: NFT_TIMEOUT_MS, ...(options.signal === undefined ? {} : { cancelSignal: options.signal }) });
  if (result.exitCode !== 0) {
    const said = String(result.stderr).trim().split('\n').slice(0, 6).join(' / ') || `exit status ${result.exitCode}`;
    throw new FirewallError(`nft refused kvc's USB/IP rules: ${said}`, { hint: 'the kernel needs nf_tables (modprobe nf_tables; CONFIG_NF_TABLES_INET); fix what nft says, or write clients = any for every export to serve them unguarded' });
  }
}
