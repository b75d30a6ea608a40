// DKIM signing of outgoing mail (RFC 6376) with the sender domain's key, and the domain keys the queue's ARC seals use.
import type { Readable } from 'node:stream';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { Domain } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';

export interface SigningKey {
  domain: string;
  selector: string;
  privateKey: string;
}

export const signingKeyOf = (domain: Pick<Domain, 'name' | 'dkim_selector' | 'dkim_private_key'>): SigningKey => ({
  domain: domain.name,
  selector: domain.dkim_selector,
  privateKey: domain.dkim_private_key
});

/** The key of a hosted domain, or null when the domain is not hosted here. */
export async function signingKeyFor(tx: Tx, domainName: string): Promise<SigningKey | null> {
  const domain = await tx.selectFrom('domains').select(['name', 'dkim_selector', 'dkim_private_key']).where('name', '=', domainName.toLowerCase()).executeTakeFirst();
  return domain ? signingKeyOf(domain) : null;
}

/**
 * The DKIM-Signature header line(s) (CRLF-terminated) for a message, relaxed/relaxed canonicalization: it survives
 * the header refolding and whitespace changes common on the way (RFC 6376 §3.4).
 */
export async function dkimSignature(message: Buffer | Readable, key: SigningKey): Promise<string> {
  const result = await dkimSign(message, {
    canonicalization: 'relaxed/relaxed',
    signatureData: [{ signingDomain: key.domain, selector: key.selector, privateKey: key.privateKey }]
  });
  if (result.errors?.length) throw new Error(`DKIM signing for ${key.domain} failed: ${result.errors.map((e: any) => e.error ?? e.message ?? e).join('; ')}`);
  return result.signatures as string;
}
