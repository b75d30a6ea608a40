// Hosted domains: add (with a DKIM key pair and an ownership token), list, remove (only when empty), catch-all.
import crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Kysely } from 'kysely';
import type { Database, Domain } from '../db/schema.js';
import { writeTransaction, type Tx } from '../db/transaction.js';
import { checkDomainName, checkHostedAddress } from './address.js';
import { audit, type Actor } from './audit.js';
import { conflict, DirectoryError, invalid, notFound } from './errors.js';

const generateKeyPair = promisify(crypto.generateKeyPair);

export async function findDomain(db: Tx, nameInput: string): Promise<Domain | undefined> {
  const name = checkDomainName('domain', nameInput);
  return db.selectFrom('domains').selectAll().where('name', '=', name).executeTakeFirst();
}

export async function requireDomain(db: Tx, nameInput: string): Promise<Domain> {
  const domain = await findDomain(db, nameInput);
  if (!domain) throw notFound('domain', `domain ${nameInput} is not hosted here`);
  return domain;
}

export function listDomains(db: Tx): Promise<Domain[]> {
  return db.selectFrom('domains').selectAll().orderBy('name').execute();
}

/** DKIM selector for keys made this month: rotating keys later only needs a new selector. */
function dkimSelector(now = new Date()): string {
  return `pf${now.getUTCFullYear()}${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
}

export async function addDomain(db: Kysely<Database>, actor: Actor, nameInput: string, field = 'domain'): Promise<Domain> {
  const name = checkDomainName(field, nameInput);
  // 2048-bit RSA: what RFC 8301 §3.2 recommends and every verifier accepts.
  const { publicKey, privateKey } = await generateKeyPair('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  });
  return writeTransaction(db, async (tx) => {
    if (await tx.selectFrom('domains').select('id').where('name', '=', name).executeTakeFirst()) {
      throw conflict(field, `domain ${name} is already hosted`);
    }
    const domain = await tx
      .insertInto('domains')
      .values({
        name,
        active: 1,
        catchall_target: null,
        dkim_selector: dkimSelector(),
        dkim_private_key: privateKey,
        dkim_public_key: publicKey,
        verification_token: crypto.randomBytes(16).toString('hex'),
        created_at: Date.now()
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await audit(tx, actor, 'domain.add', name);
    return domain;
  });
}

export async function removeDomain(db: Kysely<Database>, actor: Actor, nameInput: string): Promise<void> {
  await writeTransaction(db, async (tx) => {
    const domain = await requireDomain(tx, nameInput);
    const accounts = await tx.selectFrom('accounts').select((eb) => eb.fn.countAll<number>().as('n')).where('domain_id', '=', domain.id).executeTakeFirstOrThrow();
    if (Number(accounts.n) > 0) {
      throw new DirectoryError('conflict', 'domain', 'empty', `domain ${domain.name} still has ${accounts.n} account(s); remove or move them first`);
    }
    await tx.deleteFrom('forwards').where('domain_id', '=', domain.id).execute();
    await tx.deleteFrom('aliases').where('domain_id', '=', domain.id).execute();
    await tx.deleteFrom('domains').where('id', '=', domain.id).execute();
    await audit(tx, actor, 'domain.remove', domain.name);
  });
}

/** Points the domain's catch-all at a hosted address (an account or alias of any hosted domain). */
export async function setCatchAll(db: Kysely<Database>, actor: Actor, nameInput: string, targetInput: string): Promise<void> {
  const target = checkHostedAddress('target', targetInput).address;
  await writeTransaction(db, async (tx) => {
    const domain = await requireDomain(tx, nameInput);
    const account = await tx.selectFrom('accounts').select('id').where('address', '=', target).executeTakeFirst();
    const alias = account ? undefined : await tx.selectFrom('aliases').select('id').where('address', '=', target).executeTakeFirst();
    if (!account && !alias) throw notFound('target', `catch-all target ${target} is not an account or alias hosted here`);
    await tx.updateTable('domains').set({ catchall_target: target }).where('id', '=', domain.id).execute();
    await audit(tx, actor, 'catchall.set', domain.name, { target });
  });
}

export async function clearCatchAll(db: Kysely<Database>, actor: Actor, nameInput: string): Promise<void> {
  await writeTransaction(db, async (tx) => {
    const domain = await requireDomain(tx, nameInput);
    await tx.updateTable('domains').set({ catchall_target: null }).where('id', '=', domain.id).execute();
    await audit(tx, actor, 'catchall.clear', domain.name);
  });
}
