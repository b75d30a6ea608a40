// Inbound verification with mailauth: SPF, DKIM, DMARC and ARC through Postfach's resolver; yields the
// Authentication-Results header (RFC 8601) and the DMARC disposition the MX acts on.
import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import { authenticate } from 'mailauth';
import type { DnsResolver } from '../dns/resolver.js';

/** mailauth's list of ARC sealers receivers commonly trust (the ARC community sealer list). */
const COMMUNITY_SEALERS: readonly string[] = createRequire(import.meta.url)('mailauth/lib/arc/trustlist.js').trusted;

/** The d= of the newest ARC-Seal: the intermediary that handed the message on. */
function lastSealer(arc: any): string {
  const chain: any[] = arc?.chain ?? [];
  return String(chain[chain.length - 1]?.['arc-seal']?.parsed?.d?.value ?? '').toLowerCase();
}

const isTrusted = (domain: string, trusted: readonly string[]) => !!domain && trusted.some((t) => domain === t || domain.endsWith('.' + t));

export interface VerificationInput {
  message: Buffer | Readable;
  ip: string;
  helo: string;
  /** MAIL FROM, '' for the null sender */
  sender: string;
  /** this server's host name, the authserv-id */
  mta: string;
  /** sealers whose valid ARC chain may override a failing DMARC policy; default: mailauth's community list */
  trustedArcSealers?: readonly string[];
  /** ARC-seal the message for passing it on (RFC 8617 §5.1): the forwarding domain's key */
  seal?: { domain: string; selector: string; privateKey: string };
}

export interface Verification {
  /** complete header lines (each ending in CRLF) to prepend: Authentication-Results and Received-SPF */
  headers: string;
  /** the ARC set (ARC-Seal, ARC-Message-Signature, ARC-Authentication-Results) when sealing was asked for and allowed */
  arcSet: string;
  spf: string;
  dkim: string;
  dmarc: string;
  arc: string;
  /** what the sender's DMARC policy asks for this failing message */
  disposition: 'none' | 'quarantine' | 'reject';
  /** human-readable reason for a reject/quarantine */
  reason: string;
}

export async function verifyMessage(resolver: DnsResolver, input: VerificationInput): Promise<Verification> {
  const result: any = await authenticate(input.message, {
    ip: input.ip,
    helo: input.helo,
    sender: input.sender || undefined,
    mta: input.mta,
    resolver: resolver.resolve,
    disableBimi: true,
    seal: input.seal ? { signingDomain: input.seal.domain, selector: input.seal.selector, privateKey: input.seal.privateKey } : undefined
  });
  const dmarc = result.dmarc || {};
  const dmarcResult: string = dmarc.status?.result ?? 'none';
  let disposition: Verification['disposition'] = 'none';
  if (dmarcResult === 'fail') {
    // RFC 7489 §6.6.4: the policy applies unless a trusted ARC chain says otherwise (§ 7.2.3 local policy).
    // RFC 8617 §7.2: anyone can publish a key and seal, so only a sealer the receiver trusts counts.
    const policy = String(dmarc.policy ?? 'none').toLowerCase();
    const arcPass = result.arc?.status?.result === 'pass' && isTrusted(lastSealer(result.arc), input.trustedArcSealers ?? COMMUNITY_SEALERS);
    if (!arcPass && (policy === 'reject' || policy === 'quarantine')) disposition = policy;
  }
  const dkimResults: string[] = (result.dkim?.results ?? []).map((r: any) => r.status?.result ?? 'none');
  // mailauth puts the new ARC set in front of the other header lines; keep them apart (only forwards carry the set)
  const fields = String(result.headers).split(/\r\n(?![ \t])/).filter(Boolean);
  const isArc = (f: string) => /^arc-(seal|message-signature|authentication-results)\s*:/i.test(f);
  const join = (list: string[]) => (list.length ? list.join('\r\n') + '\r\n' : '');
  return {
    headers: join(fields.filter((f) => !isArc(f))),
    arcSet: join(fields.filter(isArc)),
    spf: result.spf?.status?.result ?? 'none',
    dkim: dkimResults.includes('pass') ? 'pass' : (dkimResults[0] ?? 'none'),
    dmarc: dmarcResult,
    arc: result.arc?.status?.result ?? 'none',
    disposition,
    reason: disposition === 'none' ? '' : `DMARC policy of ${dmarc.domain ?? 'the sender domain'} (p=${dmarc.policy}) failed`
  };
}
