// Admin users: separate from mailboxes, role owner (everything) or admin (password resets, read-only views).
import type { Kysely } from 'kysely';
import type { Admin, Database } from '../db/schema.js';
import { writeTransaction, type Tx } from '../db/transaction.js';
import { normalizeAddress } from './address.js';
import { audit, type Actor } from './audit.js';
import { conflict, invalid } from './errors.js';
import { assertPasswordPolicy, hashPassword, verifyPassword, type PasswordPolicy } from './password.js';

export type AdminRole = Admin['role'];

function checkLogin(input: string): string {
  const parsed = normalizeAddress(input);
  if (!parsed) throw invalid('login', 'address', `"${input}" is not an e-mail address; admins log in with their address`);
  return parsed.address;
}

export function countOwners(tx: Tx): Promise<number> {
  return tx
    .selectFrom('admins')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('role', '=', 'owner')
    .executeTakeFirstOrThrow()
    .then((r) => Number(r.n));
}

export async function createAdmin(db: Kysely<Database>, policy: PasswordPolicy, actor: Actor, input: { login: string; password: string; role: AdminRole }): Promise<Admin> {
  const login = checkLogin(input.login);
  if (input.role !== 'owner' && input.role !== 'admin') throw invalid('role', 'enum', 'role must be owner or admin');
  assertPasswordPolicy(input.password, policy, login);
  const hash = await hashPassword(input.password);
  return writeTransaction(db, async (tx) => {
    if (await tx.selectFrom('admins').select('id').where('login', '=', login).executeTakeFirst()) throw conflict('login', `an admin user ${login} exists already`);
    const now = Date.now();
    const admin = await tx.insertInto('admins').values({ login, password_hash: hash, role: input.role, totp_secret: null, created_at: now, updated_at: now }).returningAll().executeTakeFirstOrThrow();
    await audit(tx, actor, 'admin.add', login, { role: input.role });
    return admin;
  });
}

/**
 * The first owner, from `postfach admin owner create` or POSTFACH_OWNER_EMAIL/POSTFACH_OWNER_PASSWORD at first
 * start. Refused once an owner exists: further admin users are added by an owner.
 */
export async function createFirstOwner(db: Kysely<Database>, policy: PasswordPolicy, actor: Actor, login: string, password: string): Promise<Admin> {
  if ((await countOwners(db)) > 0) throw conflict('login', 'an owner exists already; further admin users are added by an owner');
  return createAdmin(db, policy, actor, { login, password, role: 'owner' });
}

/** Checks an admin login; null when the login or password is wrong (timing does not tell which). */
export async function verifyAdmin(db: Kysely<Database>, loginInput: string, password: string): Promise<Admin | null> {
  const parsed = normalizeAddress(loginInput);
  const admin = parsed ? await db.selectFrom('admins').selectAll().where('login', '=', parsed.address).executeTakeFirst() : undefined;
  return (await verifyPassword(admin?.password_hash, password)) && admin ? admin : null;
}

export function listAdmins(tx: Tx): Promise<Admin[]> {
  return tx.selectFrom('admins').selectAll().orderBy('login').execute();
}
