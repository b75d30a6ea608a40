// Tests for the directory: address normalisation, password policy and argon2id, accounts with their folders,
// account removal with everything routing to it, and recipient resolution including forward loops.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../server/db/connect.js';
import { writeTransaction } from '../../server/db/transaction.js';
import { addAccount, removeAccount, setActive, type AccountContext } from '../../server/directory/accounts.js';
import { asciiDomain, checkHostedAddress, checkLocalPart, displayAddress, normalizeAddress, unicodeDomain } from '../../server/directory/address.js';
import { addDomain, setCatchAll } from '../../server/directory/domains.js';
import { DirectoryError } from '../../server/directory/errors.js';
import { assertPasswordPolicy, checkPasswordPolicy, hashPassword, verifyPassword } from '../../server/directory/password.js';
import { resolveRecipient, type RecipientVerdict } from '../../server/directory/resolve.js';
import { addAlias, addForward, listForwards } from '../../server/directory/routing.js';
import { BlobStore } from '../../server/store/blobs.js';
import { prepareMessage, storeMessage } from '../../server/store/messages.js';
import { tempDir } from '../helpers/server.js';

const actor = { name: 'test' };
const PASSWORD = 'Correct-Horse-42';

/** Runs fn and returns the DirectoryError it throws (fails the test when it throws nothing or something else). */
function directoryError(fn: () => unknown): DirectoryError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DirectoryError);
    return err as DirectoryError;
  }
  throw new Error('expected a DirectoryError');
}

describe('address normalisation', () => {
  it('lower-cases the local part and the domain', () => {
    expect(checkHostedAddress('address', 'Max.Mustermann@Example.ORG')).toEqual({ local: 'max.mustermann', domain: 'example.org', address: 'max.mustermann@example.org' });
  });

  it('stores IDN domains in punycode and shows them in Unicode', () => {
    expect(checkHostedAddress('address', 'anna@MÜLLER.de').address).toBe('anna@xn--mller-kva.de');
    expect(asciiDomain('bücher.example.')).toBe('xn--bcher-kva.example');
    expect(unicodeDomain('xn--mller-kva.de')).toBe('müller.de');
    expect(displayAddress('anna@xn--mller-kva.de')).toBe('anna@müller.de');
  });

  it.each(['localhost', '-bad.de', 'bad-.de', 'exa_mple.de', 'exa mple.de', '1.2.3.4', 'a..b.de', '', `${'a'.repeat(64)}.de`])('refuses the domain %j', (domain) => {
    expect(asciiDomain(domain)).toBeNull();
    const err = directoryError(() => checkHostedAddress('address', `info@${domain}`));
    expect(err.field).toBe('address');
  });

  it.each(['a..b', '.info', 'info.', 'in fo', 'jörg', 'in"fo', 'x'.repeat(65)])('refuses the local part %j', (local) => {
    const err = directoryError(() => checkHostedAddress('alias', `${local}@example.org`));
    expect(err).toMatchObject({ kind: 'invalid', field: 'alias' });
  });

  it.each(['info', '@example.org', 'info@', 'info@@'])('refuses %j as not name@domain', (input) => {
    expect(directoryError(() => checkHostedAddress('address', input)).rule).toBe('address');
  });

  it("refuses '+' in hosted names because it separates subaddresses", () => {
    const err = directoryError(() => checkLocalPart('alias', 'info+news'));
    expect(err).toMatchObject({ kind: 'invalid', field: 'alias', rule: 'characters' });
    expect(err.message).toContain('"+"');
    // ...while a deliverable address may carry one
    expect(normalizeAddress('Info+News@Example.org')?.address).toBe('info+news@example.org');
  });

  it('normalises deliverable addresses anywhere and rejects malformed ones', () => {
    expect(normalizeAddress(' Someone@Bücher.example ')).toEqual({ local: 'someone', domain: 'xn--bcher-kva.example', address: 'someone@xn--bcher-kva.example' });
    for (const bad of ['nobody', 'a b@example.org', 'a<b@example.org', 'x@localhost', '@example.org']) expect(normalizeAddress(bad)).toBeNull();
  });
});

describe('password policy', () => {
  const policy = { minLength: 10 };
  const rules = (password: string, address?: string) => checkPasswordPolicy(password, policy, address).map((p) => p.rule);

  it('accepts a long password with letters and digits or symbols', () => {
    expect(checkPasswordPolicy(PASSWORD, policy, 'info@example.org')).toEqual([]);
  });

  it('names each broken rule with a message', () => {
    expect(checkPasswordPolicy('kurz-1', policy)).toEqual([{ rule: 'minLength', message: 'at least 10 characters' }]);
    expect(checkPasswordPolicy('nurbuchstabenhier', policy)).toEqual([{ rule: 'characters', message: 'letters and at least one digit or symbol' }]);
    expect(rules('1234567890123')).toEqual(['characters']);
    expect(checkPasswordPolicy('Info-Sicher-2024', policy, 'info@example.org')).toEqual([{ rule: 'containsName', message: 'must not contain the mailbox name' }]);
    expect(rules(' Sicher-Passwort-7')).toEqual(['whitespace']);
    expect(rules('Passwort123')).toEqual(['common']);
    expect(rules(`Aa1-${'x'.repeat(253)}`)).toEqual(['maxLength']);
  });

  it('counts characters, not UTF-16 units, against the configured minimum', () => {
    expect(checkPasswordPolicy('Sicher-Passwort-7', { minLength: 18 }).map((p) => p.rule)).toEqual(['minLength']);
    expect(checkPasswordPolicy('😀😀😀😀😀😀😀😀a1', { minLength: 11 }).map((p) => p.rule)).toEqual(['minLength']);
  });

  it('throws one error for the field password listing every rule', () => {
    const err = directoryError(() => assertPasswordPolicy('kurz', policy, 'info@example.org'));
    expect(err).toMatchObject({ kind: 'invalid', field: 'password', rule: 'minLength,characters' });
    expect(err.message).toBe('password needs: at least 10 characters; letters and at least one digit or symbol');
  });

  it('hashes with argon2id and verifies only the right password', async () => {
    const hash = await hashPassword(PASSWORD);
    expect(hash.startsWith('$argon2id$')).toBe(true);
    expect(await verifyPassword(hash, PASSWORD)).toBe(true);
    expect(await verifyPassword(hash, 'Correct-Horse-43')).toBe(false);
    expect(await verifyPassword(null, PASSWORD)).toBe(false);
    expect(await verifyPassword('not-a-hash', PASSWORD)).toBe(false);
  });
});

describe('accounts and routing in the database', () => {
  let dataDir: string;
  let handle: DatabaseHandle;
  let ctx: AccountContext;

  beforeAll(async () => {
    dataDir = tempDir('postfach-directory-');
    handle = await openDatabase(dataDir);
    ctx = { db: handle.db, policy: { minLength: 10 }, defaultQuota: 0 };
    for (const domain of ['example.org', 'müller.de', 'other.example', 'loop.example']) await addDomain(handle.db, actor, domain);
  });

  afterAll(async () => {
    await handle?.close();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const account = (address: string, extra: { active?: boolean } = {}) => addAccount(ctx, actor, { address, password: PASSWORD, ...extra });

  it('creates an account with the six special-use folders and increasing UIDVALIDITY', async () => {
    const created = await account('Folders@Example.org');
    expect(created.address).toBe('folders@example.org');
    expect(created.password_hash.startsWith('$argon2id$')).toBe(true);
    const mailboxes = await handle.db.selectFrom('mailboxes').selectAll().where('account_id', '=', created.id).orderBy('id').execute();
    expect(mailboxes.map((m) => [m.name, m.special_use])).toEqual([
      ['INBOX', null],
      ['Sent', '\\Sent'],
      ['Drafts', '\\Drafts'],
      ['Trash', '\\Trash'],
      ['Junk', '\\Junk'],
      ['Archive', '\\Archive']
    ]);
    const validities = mailboxes.map((m) => m.uidvalidity);
    for (let i = 1; i < validities.length; i++) expect(validities[i]).toBeGreaterThan(validities[i - 1]);
    expect(mailboxes.every((m) => m.uidnext === 1 && m.subscribed === 1)).toBe(true);
  });

  it('refuses an account on a domain not hosted here, a duplicate and a weak password', async () => {
    await expect(account('info@nowhere.example')).rejects.toMatchObject({ kind: 'not_found', field: 'address' });
    await account('dup@example.org');
    await expect(account('DUP@example.org')).rejects.toMatchObject({ kind: 'conflict', field: 'address' });
    await expect(addAccount(ctx, actor, { address: 'weak@example.org', password: 'weak' })).rejects.toMatchObject({ kind: 'invalid', field: 'password' });
    const rows = await handle.db.selectFrom('accounts').select('address').where('address', 'in', ['info@nowhere.example', 'weak@example.org']).execute();
    expect(rows).toEqual([]);
  });

  it('removes an account with its mail, aliases, forwards and every catch-all or forward pointing at it', async () => {
    const gone = await account('gone@example.org');
    const stays = await account('stays@example.org');
    await addAlias(handle.db, actor, 'gone-alias@example.org', 'gone@example.org');
    await addForward(handle.db, actor, 'gone@example.org', 'out@remote.example', true);
    await setCatchAll(handle.db, actor, 'example.org', 'gone@example.org');
    await setCatchAll(handle.db, actor, 'other.example', 'gone-alias@example.org');
    // forwards on other addresses that deliver to it
    await addForward(handle.db, actor, 'team@other.example', 'gone@example.org', false);
    await addForward(handle.db, actor, 'team@other.example', 'stays@example.org', false);
    await addForward(handle.db, actor, 'only@other.example', 'gone-alias@example.org', false);

    const blobs = new BlobStore(dataDir);
    await blobs.init();
    const raw = Buffer.from('From: a@remote.example\r\nTo: gone@example.org\r\nSubject: bye\r\n\r\nHello\r\n');
    const blob = await blobs.write([raw]);
    await writeTransaction(handle.db, (tx) => storeMessage(tx, blob, prepareMessage(raw), [{ accountId: gone.id, specialUse: null }], Date.now()));
    blobs.release(blob.id);

    const { account: removed, freed } = await removeAccount(handle.db, actor, 'GONE@example.org');
    expect(removed.id).toBe(gone.id);
    expect(freed).toEqual([blob.id]);
    expect(await blobs.unlinkUnreferenced(handle.db, freed)).toBe(1);
    expect(fs.existsSync(blobs.path(blob.id))).toBe(false);

    const db = handle.db;
    expect(await db.selectFrom('accounts').select('id').where('id', '=', gone.id).execute()).toEqual([]);
    expect(await db.selectFrom('mailboxes').select('id').where('account_id', '=', gone.id).execute()).toEqual([]);
    expect(await db.selectFrom('messages').select('id').execute()).toEqual([]);
    expect(await db.selectFrom('blobs').select('id').execute()).toEqual([]);
    expect(await db.selectFrom('aliases').select('address').where('address', '=', 'gone-alias@example.org').execute()).toEqual([]);
    const catchAlls = await db.selectFrom('domains').select(['name', 'catchall_target']).where('name', 'in', ['example.org', 'other.example']).orderBy('name').execute();
    expect(catchAlls).toEqual([
      { name: 'example.org', catchall_target: null },
      { name: 'other.example', catchall_target: null }
    ]);
    // its own forward is gone; a forward to it loses that destination, one left with none goes entirely
    expect(await listForwards(db)).toEqual([{ source: 'team@other.example', destinations: ['stays@example.org'], keepCopy: false }]);
    // the other account is untouched
    expect(await db.selectFrom('mailboxes').select('id').where('account_id', '=', stays.id).execute()).toHaveLength(6);
    const audit = await db.selectFrom('audit_log').select(['action', 'target']).where('action', '=', 'account.remove').execute();
    expect(audit).toEqual([{ action: 'account.remove', target: 'gone@example.org' }]);
  });

  it('adds several forward destinations at once, all or none', async () => {
    await expect(addForward(handle.db, actor, 'multi@other.example', ['a@remote.example', 'kaputt'], true)).rejects.toMatchObject({ kind: 'invalid', field: 'destination' });
    await expect(addForward(handle.db, actor, 'multi@other.example', [], true)).rejects.toMatchObject({ kind: 'invalid', field: 'destination' });
    expect(await listForwards(handle.db, 'multi@other.example')).toEqual([]);
    await addForward(handle.db, actor, 'Multi@other.example', ['B@remote.example', 'a@remote.example'], true);
    expect(await listForwards(handle.db, 'MULTI@other.example')).toEqual([{ source: 'multi@other.example', destinations: ['a@remote.example', 'b@remote.example'], keepCopy: true }]);
  });

  describe('resolveRecipient', () => {
    const resolve = (address: string) => resolveRecipient(handle.db, address);
    /** The verdict reduced to what the MX acts on: status, local account addresses, remote destinations (sorted: order carries no meaning). */
    const summary = (v: RecipientVerdict) =>
      v.status === 'accept'
        ? { status: v.status, address: v.address, accounts: v.accounts.map((a) => a.address).sort(), remote: v.remote.map((r) => `${r.destination} for ${r.forwardedFor}`).sort() }
        : { status: v.status, address: v.address };

    beforeAll(async () => {
      await account('info@müller.de');
      await account('off@müller.de', { active: false });
      await account('keep@müller.de');
      await account('away@müller.de');
      await addAlias(handle.db, actor, 'kontakt@müller.de', 'info@müller.de');
      await addAlias(handle.db, actor, 'off-alias@müller.de', 'off@müller.de');
      await addForward(handle.db, actor, 'keep@müller.de', 'keep@remote.example', true);
      await addForward(handle.db, actor, 'away@müller.de', 'away@remote.example', false);
      await addForward(handle.db, actor, 'team@müller.de', 'info@müller.de', false);
      await addForward(handle.db, actor, 'team@müller.de', 'keep@müller.de', false);
      await addForward(handle.db, actor, 'team@müller.de', 'boss@remote.example', false);
      await addForward(handle.db, actor, 'dangling@müller.de', 'nobody@müller.de', false);
      await account('catch@other.example');
      await setCatchAll(handle.db, actor, 'other.example', 'catch@other.example');
    });

    it('says invalid for a malformed address and relay for a domain not hosted here', async () => {
      expect(summary(await resolve('not an address'))).toEqual({ status: 'invalid', address: 'not an address' });
      expect(summary(await resolve('someone@Remote.example'))).toEqual({ status: 'relay', address: 'someone@remote.example' });
    });

    it('says relay for a hosted domain that is switched off', async () => {
      await handle.db.updateTable('domains').set({ active: 0 }).where('name', '=', 'loop.example').execute();
      try {
        expect((await resolve('x@loop.example')).status).toBe('relay');
      } finally {
        await handle.db.updateTable('domains').set({ active: 1 }).where('name', '=', 'loop.example').execute();
      }
    });

    it('says unknown for an address matching nothing on a domain without catch-all', async () => {
      expect(summary(await resolve('nobody@müller.de'))).toEqual({ status: 'unknown', address: 'nobody@xn--mller-kva.de' });
    });

    it('accepts an account in any case and spelling of its domain, and its subaddresses', async () => {
      const expected = { status: 'accept', accounts: ['info@xn--mller-kva.de'], remote: [] };
      expect(summary(await resolve('INFO@MÜLLER.DE'))).toEqual({ ...expected, address: 'info@xn--mller-kva.de' });
      expect(summary(await resolve('info@xn--mller-kva.de'))).toEqual({ ...expected, address: 'info@xn--mller-kva.de' });
      expect(summary(await resolve('info+news@müller.de'))).toEqual({ ...expected, address: 'info+news@xn--mller-kva.de' });
    });

    it('accepts an alias for its account', async () => {
      expect(summary(await resolve('Kontakt@müller.de'))).toEqual({ status: 'accept', address: 'kontakt@xn--mller-kva.de', accounts: ['info@xn--mller-kva.de'], remote: [] });
    });

    it('says disabled for an inactive account and its aliases', async () => {
      expect(summary(await resolve('off@müller.de'))).toEqual({ status: 'disabled', address: 'off@xn--mller-kva.de' });
      expect((await resolve('off-alias@müller.de')).status).toBe('disabled');
    });

    it('forwards with and without a kept copy', async () => {
      expect(summary(await resolve('keep@müller.de'))).toEqual({
        status: 'accept',
        address: 'keep@xn--mller-kva.de',
        accounts: ['keep@xn--mller-kva.de'],
        remote: ['keep@remote.example for keep@xn--mller-kva.de']
      });
      expect(summary(await resolve('away@müller.de'))).toEqual({ status: 'accept', address: 'away@xn--mller-kva.de', accounts: [], remote: ['away@remote.example for away@xn--mller-kva.de'] });
    });

    it('expands a forward without an account to local accounts (and their forwards) and remote addresses', async () => {
      expect(summary(await resolve('team@müller.de'))).toEqual({
        status: 'accept',
        address: 'team@xn--mller-kva.de',
        accounts: ['info@xn--mller-kva.de', 'keep@xn--mller-kva.de'],
        remote: ['boss@remote.example for team@xn--mller-kva.de', 'keep@remote.example for keep@xn--mller-kva.de']
      });
    });

    it('says unknown for a forward whose only destination is a hosted address that does not exist', async () => {
      expect((await resolve('dangling@müller.de')).status).toBe('unknown');
    });

    it('sends what matches nothing to the catch-all, but never what matches an address', async () => {
      expect(summary(await resolve('Anything@other.example'))).toEqual({ status: 'accept', address: 'anything@other.example', accounts: ['catch@other.example'], remote: [] });
      expect(summary(await resolve('catch@other.example'))).toEqual({ status: 'accept', address: 'catch@other.example', accounts: ['catch@other.example'], remote: [] });
      await setActive(handle.db, actor, 'catch@other.example', false);
      try {
        // a catch-all pointing at a deactivated account refuses as that account would (550 5.2.1)
        expect((await resolve('anything@other.example')).status).toBe('disabled');
      } finally {
        await setActive(handle.db, actor, 'catch@other.example', true);
      }
    });

    it('ends forward loops (a -> b -> a) instead of recursing', async () => {
      await addForward(handle.db, actor, 'a@loop.example', 'b@loop.example', false);
      await addForward(handle.db, actor, 'b@loop.example', 'a@loop.example', false);
      expect(summary(await resolve('a@loop.example'))).toEqual({ status: 'unknown', address: 'a@loop.example' });
      // a loop with one way out still delivers there
      await addForward(handle.db, actor, 'b@loop.example', 'exit@remote.example', false);
      expect(summary(await resolve('a@loop.example'))).toEqual({ status: 'accept', address: 'a@loop.example', accounts: [], remote: ['exit@remote.example for b@loop.example'] });
    });

    it('ends a loop between two accounts that keep copies, delivering once to each', async () => {
      await account('x@loop.example');
      await account('y@loop.example');
      await addForward(handle.db, actor, 'x@loop.example', 'y@loop.example', true);
      await addForward(handle.db, actor, 'y@loop.example', 'x@loop.example', true);
      expect(summary(await resolve('x@loop.example'))).toEqual({ status: 'accept', address: 'x@loop.example', accounts: ['x@loop.example', 'y@loop.example'], remote: [] });
    });
  });
});
