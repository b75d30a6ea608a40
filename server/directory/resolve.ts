// Recipient resolution for the MX: account, alias, forward, catch-all (only for addresses matching nothing else).
import type { Account, Domain } from '../db/schema.js';
import type { Tx } from '../db/transaction.js';
import { normalizeAddress } from './address.js';

export interface RemoteForward {
  destination: string;
  /** the hosted address whose forward produced this destination (SRS rewrites for it) */
  forwardedFor: string;
}

export type RecipientVerdict =
  | { status: 'accept'; address: string; accounts: Account[]; remote: RemoteForward[] }
  | { status: 'invalid' | 'relay' | 'unknown' | 'disabled'; address: string };

const MAX_DEPTH = 5;

/** Subaddressing (RFC 5233): info+news@ reaches info@ when no exact match exists. */
function withoutDetail(local: string): string | null {
  const plus = local.indexOf('+');
  return plus > 0 ? local.slice(0, plus) : null;
}

export async function resolveRecipient(tx: Tx, input: string): Promise<RecipientVerdict> {
  return resolve(tx, input, 0, new Set());
}

async function resolve(tx: Tx, input: string, depth: number, seen: Set<string>): Promise<RecipientVerdict> {
  const parsed = normalizeAddress(input);
  if (!parsed) return { status: 'invalid', address: input };
  const { address, domain: domainName, local } = parsed;
  const domain = await tx.selectFrom('domains').selectAll().where('name', '=', domainName).executeTakeFirst();
  if (!domain || !domain.active) return { status: 'relay', address };
  if (seen.has(address) || depth > MAX_DEPTH) return { status: 'unknown', address };
  seen.add(address);

  const base = withoutDetail(local);
  const candidates = base ? [address, `${base}@${domainName}`] : [address];
  for (const candidate of candidates) {
    const verdict = await resolveExact(tx, candidate, depth, seen);
    if (verdict) return { ...verdict, address };
  }
  return resolveCatchAll(tx, domain, address, depth, seen);
}

async function resolveExact(tx: Tx, address: string, depth: number, seen: Set<string>): Promise<RecipientVerdict | null> {
  let account = await tx.selectFrom('accounts').selectAll().where('address', '=', address).executeTakeFirst();
  if (!account) {
    const alias = await tx.selectFrom('aliases').select('account_id').where('address', '=', address).executeTakeFirst();
    if (alias) account = await tx.selectFrom('accounts').selectAll().where('id', '=', alias.account_id).executeTakeFirst();
  }
  if (account && !account.active) return { status: 'disabled', address };
  const forward = await tx.selectFrom('forwards').selectAll().where('source', '=', account?.address ?? address).executeTakeFirst();
  if (!forward) return account ? { status: 'accept', address, accounts: [account], remote: [] } : null;

  const accounts: Account[] = account && forward.keep_copy ? [account] : [];
  const remote: RemoteForward[] = [];
  const destinations = await tx.selectFrom('forward_destinations').select('destination').where('forward_id', '=', forward.id).execute();
  for (const { destination } of destinations) {
    const local = await resolve(tx, destination, depth + 1, seen);
    if (local.status === 'accept') {
      for (const a of local.accounts) if (!accounts.some((x) => x.id === a.id)) accounts.push(a);
      remote.push(...local.remote);
    } else if (local.status === 'relay') {
      remote.push({ destination, forwardedFor: forward.source });
    }
    // a destination on a hosted domain that resolves to nothing (or a loop) is dropped
  }
  if (!accounts.length && !remote.length) return account ? { status: 'accept', address, accounts: [account], remote: [] } : { status: 'unknown', address };
  return { status: 'accept', address, accounts, remote };
}

async function resolveCatchAll(tx: Tx, domain: Domain, address: string, depth: number, seen: Set<string>): Promise<RecipientVerdict> {
  if (!domain.catchall_target) return { status: 'unknown', address };
  const target = await resolve(tx, domain.catchall_target, depth + 1, seen);
  // a catch-all pointing at a deactivated account refuses like that account would (550 5.2.1)
  if (target.status === 'accept' || target.status === 'disabled') return { ...target, address };
  return { status: 'unknown', address };
}
