// Mailbox accounts: create (with the special-use folders), list with usage, password reset, (de)activation, removal.
import type { Kysely } from 'kysely';
import type { Account, Database } from '../db/schema.js';
import { writeTransaction, type Tx } from '../db/transaction.js';
import { createDefaultMailboxes } from '../store/mailboxes.js';
import type { BlobStore } from '../store/blobs.js';
import { purgeAccountMail } from '../store/messages.js';
import { checkHostedAddress } from './address.js';
import { audit, type Actor } from './audit.js';
import { conflict, invalid, notFound } from './errors.js';
import { assertPasswordPolicy, hashPassword, type PasswordPolicy } from './password.js';

export interface NewAccountInput {
  address: string;
  password: string;
  displayName?: string;
  active?: boolean;
  /** bytes, 0 = unlimited */
  quota?: number;
}

export interface AccountContext {
  db: Kysely<Database>;
  policy: PasswordPolicy;
  defaultQuota: number;
}

function checkQuota(quota: number): number {
  if (!Number.isSafeInteger(quota) || quota < 0) throw invalid('quota', 'integer', 'quota must be a whole number of bytes, 0 for unlimited');
  return quota;
}

function checkDisplayName(name: string): string {
  const trimmed = name.trim();
  if ([...trimmed].length > 200) throw invalid('displayName', 'length', 'display name may have at most 200 characters');
  if (/[\x00-\x1f\x7f]/.test(trimmed)) throw invalid('displayName', 'characters', 'display name must not contain control characters');
  return trimmed;
}

/** Whether a hosted address is already taken by an account, alias or forward. */
export async function addressInUse(tx: Tx, address: string): Promise<string | null> {
  if (await tx.selectFrom('accounts').select('id').where('address', '=', address).executeTakeFirst()) return 'account';
  if (await tx.selectFrom('aliases').select('id').where('address', '=', address).executeTakeFirst()) return 'alias';
  if (await tx.selectFrom('forwards').select('id').where('source', '=', address).executeTakeFirst()) return 'forward';
  return null;
}

export async function addAccount(ctx: AccountContext, actor: Actor, input: NewAccountInput): Promise<Account> {
  const { local, domain: domainName, address } = checkHostedAddress('address', input.address);
  assertPasswordPolicy(input.password, ctx.policy, address);
  const displayName = checkDisplayName(input.displayName ?? '');
  const quota = checkQuota(input.quota ?? ctx.defaultQuota);
  const hash = await hashPassword(input.password);
  return writeTransaction(ctx.db, async (tx) => {
    const domain = await tx.selectFrom('domains').selectAll().where('name', '=', domainName).executeTakeFirst();
    if (!domain) throw notFound('address', `domain ${domainName} is not hosted here; add it first`);
    const taken = await addressInUse(tx, address);
    if (taken === 'account' || taken === 'alias') throw conflict('address', `${address} is already an ${taken}`);
    const now = Date.now();
    const account = await tx
      .insertInto('accounts')
      .values({
        domain_id: domain.id,
        local_part: local,
        address,
        display_name: displayName,
        password_hash: hash,
        active: input.active === false ? 0 : 1,
        quota,
        used_bytes: 0,
        created_at: now,
        updated_at: now
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await createDefaultMailboxes(tx, account.id);
    await audit(tx, actor, 'account.add', address, { active: account.active === 1, quota });
    return account;
  });
}

export async function findAccount(tx: Tx, addressInput: string): Promise<Account | undefined> {
  const { address } = checkHostedAddress('address', addressInput);
  return tx.selectFrom('accounts').selectAll().where('address', '=', address).executeTakeFirst();
}

export async function requireAccount(tx: Tx, addressInput: string): Promise<Account> {
  const account = await findAccount(tx, addressInput);
  if (!account) throw notFound('address', `no account ${addressInput}`);
  return account;
}

export function listAccounts(tx: Tx, domainName?: string): Promise<Account[]> {
  let q = tx.selectFrom('accounts').selectAll('accounts');
  if (domainName) q = q.innerJoin('domains', 'domains.id', 'accounts.domain_id').where('domains.name', '=', domainName);
  return q.orderBy('accounts.address').execute();
}

export async function setPassword(ctx: AccountContext, actor: Actor, addressInput: string, password: string): Promise<void> {
  const { address } = checkHostedAddress('address', addressInput);
  assertPasswordPolicy(password, ctx.policy, address);
  const hash = await hashPassword(password);
  await writeTransaction(ctx.db, async (tx) => {
    const account = await requireAccount(tx, address);
    await tx.updateTable('accounts').set({ password_hash: hash, updated_at: Date.now() }).where('id', '=', account.id).execute();
    await audit(tx, actor, 'account.passwd', address);
  });
}

export async function setActive(db: Kysely<Database>, actor: Actor, addressInput: string, active: boolean): Promise<void> {
  await writeTransaction(db, async (tx) => {
    const account = await requireAccount(tx, addressInput);
    await tx.updateTable('accounts').set({ active: active ? 1 : 0, updated_at: Date.now() }).where('id', '=', account.id).execute();
    await audit(tx, actor, active ? 'account.activate' : 'account.deactivate', account.address);
  });
}

export interface AccountChanges {
  displayName?: string;
  quota?: number;
}

export async function updateAccount(db: Kysely<Database>, actor: Actor, addressInput: string, changes: AccountChanges): Promise<Account> {
  const set: { display_name?: string; quota?: number; updated_at: number } = { updated_at: Date.now() };
  if (changes.displayName !== undefined) set.display_name = checkDisplayName(changes.displayName);
  if (changes.quota !== undefined) set.quota = checkQuota(changes.quota);
  return writeTransaction(db, async (tx) => {
    const account = await requireAccount(tx, addressInput);
    const updated = await tx.updateTable('accounts').set(set).where('id', '=', account.id).returningAll().executeTakeFirstOrThrow();
    await audit(tx, actor, 'account.update', account.address, changes as Record<string, unknown>);
    return updated;
  });
}

export interface RemovedAccount {
  account: Account;
  /** blob ids whose last reference went with the account: unlink them after the commit */
  freed: string[];
}

/**
 * Deletes an account and all its mail: messages, folders, aliases pointing at it, its forward, forwards and catch-alls
 * naming it, in one transaction. The blob files are left to the caller (see deleteAccount).
 */
export async function removeAccount(db: Kysely<Database>, actor: Actor, addressInput: string): Promise<RemovedAccount> {
  return writeTransaction(db, async (tx) => {
    const account = await requireAccount(tx, addressInput);
    const freed = await purgeAccountMail(tx, account.id);
    const aliases = await tx.selectFrom('aliases').select('address').where('account_id', '=', account.id).execute();
    const names = [account.address, ...aliases.map((a) => a.address)];
    await tx.deleteFrom('aliases').where('account_id', '=', account.id).execute();
    await tx.deleteFrom('forwards').where('source', 'in', names).execute();
    // Forwards delivering to it lose that destination (a later account under the same name must not inherit
    // them); a forward left with no destination goes entirely.
    const pointing = await tx.selectFrom('forward_destinations').select('forward_id').where('destination', 'in', names).execute();
    if (pointing.length) {
      const forwardIds = pointing.map((p) => p.forward_id);
      await tx.deleteFrom('forward_destinations').where('destination', 'in', names).execute();
      await tx
        .deleteFrom('forwards')
        .where('id', 'in', forwardIds)
        .where(({ not, exists, selectFrom }) => not(exists(selectFrom('forward_destinations').select('forward_id').whereRef('forward_destinations.forward_id', '=', 'forwards.id'))))
        .execute();
    }
    await tx.updateTable('domains').set({ catchall_target: null }).where('catchall_target', 'in', names).execute();
    await tx.deleteFrom('accounts').where('id', '=', account.id).execute();
    await audit(tx, actor, 'account.remove', account.address, { aliases: aliases.map((a) => a.address) });
    return { account, freed };
  });
}

/** removeAccount, then the blob files no other message references are unlinked: the mail is really gone. */
export async function deleteAccount(db: Kysely<Database>, blobs: BlobStore, actor: Actor, addressInput: string): Promise<{ account: Account; blobsRemoved: number }> {
  const { account, freed } = await removeAccount(db, actor, addressInput);
  return { account, blobsRemoved: await blobs.unlinkUnreferenced(db, freed) };
}
