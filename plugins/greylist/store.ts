// The greylist plugin's rows: triplets (client network, sender, recipient) and the sender domains recipients know.
// The only code that touches the greylist tables.
import net from 'node:net';
import type { Kysely } from 'kysely';
import type { Database } from '../../server/db/schema.js';
import type { Tx } from '../../server/db/transaction.js';
import { ipv6Groups, plainAddress } from '../../server/plugins/addresses.js';

export interface Triplet {
  network: string;
  sender: string;
  recipient: string;
}

export interface Timing {
  /** milliseconds a new triplet waits before a retry passes */
  delay: number;
  /** milliseconds after first sight within which the retry must come; later it starts over */
  retryWindow: number;
  /** milliseconds a passed triplet or a known domain is remembered after it was last seen */
  expiry: number;
}

export type Verdict = { status: 'passed' } | { status: 'wait'; ms: number };

/** The client's /24 (IPv4) or /64 (IPv6): a sender's retry often comes from another address of the same pool. */
export function networkOf(ip: string): string {
  const address = plainAddress(ip);
  if (net.isIPv4(address)) return `${address.split('.').slice(0, 3).join('.')}.0/24`;
  const groups = ipv6Groups(address) ?? [address];
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** A passed triplet still remembered, or null. */
export async function passedTriplet(db: Kysely<Database>, triplet: Triplet, now: number, timing: Timing): Promise<boolean> {
  const row = await db.selectFrom('greylist_triplets').select(['passed_at', 'last_seen']).where('network', '=', triplet.network).where('sender', '=', triplet.sender).where('recipient', '=', triplet.recipient).executeTakeFirst();
  return Boolean(row?.passed_at && now - row.last_seen <= timing.expiry);
}

/**
 * Records an attempt: a new triplet (or one whose retry came too late, or that was forgotten) starts waiting; a
 * retry after the delay passes; `pass` lets it pass at once (the known-sender rule).
 */
export async function observe(tx: Tx, triplet: Triplet, now: number, timing: Timing, pass = false): Promise<Verdict> {
  const row = await tx.selectFrom('greylist_triplets').selectAll().where('network', '=', triplet.network).where('sender', '=', triplet.sender).where('recipient', '=', triplet.recipient).executeTakeFirst();
  const fresh = !row || (row.passed_at ? now - row.last_seen > timing.expiry : now - row.first_seen > timing.retryWindow);
  const firstSeen = fresh ? now : row!.first_seen;
  const passes = pass || Boolean(!fresh && row!.passed_at) || now - firstSeen >= timing.delay;
  const passedAt = passes ? (!fresh && row!.passed_at ? row!.passed_at : now) : null;
  await tx
    .insertInto('greylist_triplets')
    .values({ ...triplet, first_seen: firstSeen, passed_at: passedAt, last_seen: now })
    .onConflict((oc) => oc.columns(['network', 'sender', 'recipient']).doUpdateSet({ first_seen: firstSeen, passed_at: passedAt, last_seen: now }))
    .execute();
  return passes ? { status: 'passed' } : { status: 'wait', ms: firstSeen + timing.delay - now };
}

/** Whether the recipient knows the domain (passing mail from it, or mail to it) within the expiry. */
export async function knowsDomain(db: Kysely<Database>, recipient: string, domain: string, now: number, timing: Timing): Promise<boolean> {
  const row = await db.selectFrom('greylist_known').select('last_seen').where('recipient', '=', recipient).where('domain', '=', domain).executeTakeFirst();
  return Boolean(row && now - row.last_seen <= timing.expiry);
}

export async function rememberDomain(tx: Tx, recipient: string, domain: string, now: number): Promise<void> {
  await tx
    .insertInto('greylist_known')
    .values({ recipient, domain, last_seen: now })
    .onConflict((oc) => oc.columns(['recipient', 'domain']).doUpdateSet({ last_seen: now }))
    .execute();
}

/** Deletes what is past remembering; returns the number of rows removed. */
export async function expire(tx: Tx, now: number, timing: Timing): Promise<number> {
  const triplets = await tx
    .deleteFrom('greylist_triplets')
    .where((eb) => eb.or([eb.and([eb('passed_at', 'is not', null), eb('last_seen', '<', now - timing.expiry)]), eb.and([eb('passed_at', 'is', null), eb('first_seen', '<', now - timing.retryWindow)])]))
    .executeTakeFirst();
  const known = await tx.deleteFrom('greylist_known').where('last_seen', '<', now - timing.expiry).executeTakeFirst();
  return Number(triplets.numDeletedRows) + Number(known.numDeletedRows);
}
