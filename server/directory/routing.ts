// Aliases (another address for an account) and forwards (a hosted address whose mail goes to other addresses).
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import { writeTransaction, type Tx } from '../db/transaction.js';
import { checkHostedAddress, normalizeAddress } from './address.js';
import { addressInUse, requireAccount } from './accounts.js';
import { audit, type Actor } from './audit.js';
import { conflict, invalid, notFound } from './errors.js';

async function hostedDomainId(tx: Tx, field: string, domain: string): Promise<number> {
  const row = await tx.selectFrom('domains').select('id').where('name', '=', domain).executeTakeFirst();
  if (!row) throw notFound(field, `domain ${domain} is not hosted here`);
  return row.id;
}

export interface AliasView {
  address: string;
  account: string;
}

export async function addAlias(db: Kysely<Database>, actor: Actor, aliasInput: string, accountInput: string): Promise<void> {
  const { domain, address } = checkHostedAddress('alias', aliasInput);
  await writeTransaction(db, async (tx) => {
    const domainId = await hostedDomainId(tx, 'alias', domain);
    const account = await requireAccount(tx, accountInput);
    const taken = await addressInUse(tx, address);
    if (taken) throw conflict('alias', `${address} is already an ${taken}`);
    await tx.insertInto('aliases').values({ domain_id: domainId, address, account_id: account.id, created_at: Date.now() }).execute();
    await audit(tx, actor, 'alias.add', address, { account: account.address });
  });
}

export function listAliases(tx: Tx, accountAddress?: string): Promise<AliasView[]> {
  let q = tx.selectFrom('aliases').innerJoin('accounts', 'accounts.id', 'aliases.account_id').select(['aliases.address as address', 'accounts.address as account']);
  if (accountAddress) q = q.where('accounts.address', '=', normalizeAddress(accountAddress)?.address ?? accountAddress.toLowerCase());
  return q.orderBy('aliases.address').execute();
}

/** The addresses an account may send as: its own and its aliases. */
export async function senderAddresses(tx: Tx, accountId: number): Promise<string[]> {
  const account = await tx.selectFrom('accounts').select('address').where('id', '=', accountId).executeTakeFirst();
  if (!account) return [];
  const aliases = await tx.selectFrom('aliases').select('address').where('account_id', '=', accountId).execute();
  return [account.address, ...aliases.map((a) => a.address)];
}

export async function removeAlias(db: Kysely<Database>, actor: Actor, aliasInput: string): Promise<void> {
  const { address } = checkHostedAddress('alias', aliasInput);
  await writeTransaction(db, async (tx) => {
    const result = await tx.deleteFrom('aliases').where('address', '=', address).executeTakeFirst();
    if (!result.numDeletedRows) throw notFound('alias', `no alias ${address}`);
    await tx.updateTable('domains').set({ catchall_target: null }).where('catchall_target', '=', address).execute();
    await audit(tx, actor, 'alias.remove', address);
  });
}

export interface ForwardView {
  source: string;
  destinations: string[];
  keepCopy: boolean;
}

/**
 * Adds destinations to the forward of a hosted address (creating it), all or none; keepCopy is set for the
 * whole forward. With `replace` the given destinations become the whole list (the admin UI's edit).
 */
export async function addForward(db: Kysely<Database>, actor: Actor, sourceInput: string, destinationInput: string | string[], keepCopy?: boolean, replace = false): Promise<void> {
  const { domain, address: source } = checkHostedAddress('source', sourceInput);
  const destinations = (Array.isArray(destinationInput) ? destinationInput : [destinationInput]).map((input) => {
    const dest = normalizeAddress(input);
    if (!dest) throw invalid('destination', 'address', `"${input}" is not an address of the form name@domain`);
    if (dest.address === source) throw invalid('destination', 'loop', 'a forward cannot point at its own source');
    return dest.address;
  });
  if (!destinations.length) throw invalid('destination', 'required', 'a forward needs at least one destination');
  await writeTransaction(db, async (tx) => {
    const domainId = await hostedDomainId(tx, 'source', domain);
    const taken = await addressInUse(tx, source);
    if (taken === 'alias') throw conflict('source', `${source} is an alias; forward the account it points to instead`);
    let forward = await tx.selectFrom('forwards').selectAll().where('source', '=', source).executeTakeFirst();
    if (!forward) {
      forward = await tx
        .insertInto('forwards')
        .values({ domain_id: domainId, source, keep_copy: keepCopy ? 1 : 0, created_at: Date.now() })
        .returningAll()
        .executeTakeFirstOrThrow();
    } else {
      // adding a destination leaves keep-copy as it is unless the caller says otherwise
      if (keepCopy !== undefined) await tx.updateTable('forwards').set({ keep_copy: keepCopy ? 1 : 0 }).where('id', '=', forward.id).execute();
      if (replace) {
        const dropped = await tx.deleteFrom('forward_destinations').where('forward_id', '=', forward.id).where('destination', 'not in', destinations).returning('destination').execute();
        for (const { destination } of dropped) await audit(tx, actor, 'forward.remove', source, { destination });
      }
    }
    for (const destination of destinations) {
      await tx
        .insertInto('forward_destinations')
        .values({ forward_id: forward.id, destination })
        .onConflict((oc) => oc.doNothing())
        .execute();
      await audit(tx, actor, 'forward.add', source, { destination, keepCopy });
    }
  });
}

export async function listForwards(tx: Tx, sourceAddress?: string): Promise<ForwardView[]> {
  let q = tx.selectFrom('forwards').leftJoin('forward_destinations', 'forward_destinations.forward_id', 'forwards.id').select(['forwards.source', 'forwards.keep_copy', 'forward_destinations.destination']);
  if (sourceAddress) q = q.where('forwards.source', '=', normalizeAddress(sourceAddress)?.address ?? sourceAddress.toLowerCase());
  const rows = await q.orderBy('forwards.source').orderBy('forward_destinations.destination').execute();
  const bySource = new Map<string, ForwardView>();
  for (const r of rows) {
    let view = bySource.get(r.source);
    if (!view) bySource.set(r.source, (view = { source: r.source, destinations: [], keepCopy: r.keep_copy === 1 }));
    if (r.destination) view.destinations.push(r.destination);
  }
  return [...bySource.values()];
}

/** Removes one destination, or the whole forward when no destination is named (or the last one goes). */
export async function removeForward(db: Kysely<Database>, actor: Actor, sourceInput: string, destinationInput?: string): Promise<void> {
  const { address: source } = checkHostedAddress('source', sourceInput);
  await writeTransaction(db, async (tx) => {
    const forward = await tx.selectFrom('forwards').selectAll().where('source', '=', source).executeTakeFirst();
    if (!forward) throw notFound('source', `no forward for ${source}`);
    if (destinationInput) {
      const dest = normalizeAddress(destinationInput)?.address ?? destinationInput;
      const r = await tx.deleteFrom('forward_destinations').where('forward_id', '=', forward.id).where('destination', '=', dest).executeTakeFirst();
      if (!r.numDeletedRows) throw notFound('destination', `${source} does not forward to ${dest}`);
      const left = await tx.selectFrom('forward_destinations').select('destination').where('forward_id', '=', forward.id).executeTakeFirst();
      if (!left) await tx.deleteFrom('forwards').where('id', '=', forward.id).execute();
    } else {
      await tx.deleteFrom('forwards').where('id', '=', forward.id).execute();
    }
    await audit(tx, actor, 'forward.remove', source, destinationInput ? { destination: destinationInput } : {});
  });
}
