// Tests for merging one account into another: folder matching, UIDs/modseq, flags and dates, quota usage, blob
// refcounts, addresses re-pointed, and all-or-nothing on failure.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../server/db/connect.js';
import type { Account, Mailbox, Message } from '../../server/db/schema.js';
import { writeTransaction } from '../../server/db/transaction.js';
import { addAccount, type AccountContext } from '../../server/directory/accounts.js';
import { addDomain, setCatchAll } from '../../server/directory/domains.js';
import { DirectoryError } from '../../server/directory/errors.js';
import { mergeAccounts, type MergeResult } from '../../server/directory/merge.js';
import { resolveRecipient } from '../../server/directory/resolve.js';
import { addAlias, addForward } from '../../server/directory/routing.js';
import { BlobStore } from '../../server/store/blobs.js';
import { createMailbox, findMailbox, renameMailbox } from '../../server/store/mailboxes.js';
import { listMessages, prepareMessage, storeMessage } from '../../server/store/messages.js';
import { PASSWORD, actor, tempDir } from '../helpers/server.js';

const SOURCE = 'anna@example.org';
const TARGET = 'berta@example.net';
const TABLES = ['domains', 'accounts', 'aliases', 'forwards', 'forward_destinations', 'mailboxes', 'messages', 'expunges', 'blobs', 'audit_log'];

function rawMessage(subject: string): Buffer {
  return Buffer.from(`From: Carl <carl@remote.test>\r\nTo: ${SOURCE}\r\nSubject: ${subject}\r\nMessage-ID: <${encodeURIComponent(subject)}@remote.test>\r\nDate: Mon, 5 Jan 2026 10:00:00 +0100\r\n\r\nText of ${subject}\r\n`);
}

describe('mergeAccounts', () => {
  let handle: DatabaseHandle;
  let blobs: BlobStore;
  let source: Account;
  let target: Account;

  /** Every row the merge may touch, to prove a failed merge changed nothing. */
  const snapshot = () => Object.fromEntries(TABLES.map((t) => [t, handle.sqlite.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()]));
  const account = (address: string) => handle.db.selectFrom('accounts').selectAll().where('address', '=', address).executeTakeFirst();
  const messages = (accountId: number, folder: string) => writeTransaction(handle.db, (tx) => listMessages(tx, accountId, folder));
  const mailbox = async (accountId: number, name: string) => (await writeTransaction(handle.db, (tx) => findMailbox(tx, accountId, name)))!;

  async function deliver(accountId: number, folder: string, subject: string, flags: string[], internalDate: number): Promise<void> {
    const raw = rawMessage(subject);
    const blob = await blobs.write([raw]);
    await writeTransaction(handle.db, async (tx) => {
      const box = await findMailbox(tx, accountId, folder);
      return storeMessage(tx, blob, prepareMessage(raw), [{ accountId, specialUse: null, mailboxId: box!.id, flags }], internalDate);
    });
    blobs.release(blob.id);
  }

  beforeAll(async () => {
    const dataDir = tempDir();
    handle = await openDatabase(dataDir);
    blobs = new BlobStore(dataDir);
    await blobs.init();
    const ctx: AccountContext = { db: handle.db, policy: { minLength: 10 }, defaultQuota: 0 };
    await addDomain(handle.db, actor, 'example.org');
    await addDomain(handle.db, actor, 'example.net');
    source = await addAccount(ctx, actor, { address: SOURCE, password: PASSWORD });
    target = await addAccount(ctx, actor, { address: TARGET, password: PASSWORD });
    await writeTransaction(handle.db, async (tx) => {
      await createMailbox(tx, source.id, 'Projekte');
      await createMailbox(tx, source.id, 'Kunden/2026');
      // a special-use folder under another name: it must land in the target's \Drafts, not in a new "Entwürfe"
      await renameMailbox(tx, source.id, 'Drafts', 'Entwürfe');
      await createMailbox(tx, target.id, 'Projekte');
    });
    await deliver(target.id, 'INBOX', 'target one', ['\\Seen'], Date.UTC(2025, 0, 1));
    await deliver(target.id, 'INBOX', 'target two', [], Date.UTC(2025, 0, 2));
    await deliver(target.id, 'Projekte', 'target project', [], Date.UTC(2025, 0, 3));
    // the same bytes in both accounts: one blob row with two references
    await deliver(target.id, 'Sent', 'shared', ['\\Seen'], Date.UTC(2025, 0, 4));
    await deliver(source.id, 'INBOX', 'source one', ['\\Seen', '\\Flagged'], Date.UTC(2024, 5, 1, 8, 30));
    await deliver(source.id, 'INBOX', 'source two', ['$Label1'], Date.UTC(2024, 5, 2));
    await deliver(source.id, 'Sent', 'shared', ['\\Seen', '\\Answered'], Date.UTC(2024, 5, 3));
    await deliver(source.id, 'Projekte', 'source project', [], Date.UTC(2024, 5, 4));
    await deliver(source.id, 'Kunden/2026', 'customer', ['\\Seen'], Date.UTC(2024, 5, 5));
    await deliver(source.id, 'Entwürfe', 'draft', ['\\Draft'], Date.UTC(2024, 5, 6));
    await addAlias(handle.db, actor, 'anna.alt@example.org', SOURCE);
    await addForward(handle.db, actor, SOURCE, 'anna@elsewhere.test', true);
    await setCatchAll(handle.db, actor, 'example.org', SOURCE);
  });

  afterAll(async () => {
    await handle.close();
  });

  it('refuses to merge an account into itself, naming the field', async () => {
    const err = await mergeAccounts(handle.db, actor, SOURCE, 'Anna@Example.ORG').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DirectoryError);
    expect(err).toMatchObject({ kind: 'invalid', field: 'target', rule: 'distinct' });
  });

  it('refuses a target that does not exist and changes nothing', async () => {
    const before = snapshot();
    await expect(mergeAccounts(handle.db, actor, SOURCE, 'nobody@example.net')).rejects.toMatchObject({ kind: 'not_found', field: 'target' });
    await expect(mergeAccounts(handle.db, actor, 'nobody@example.org', TARGET)).rejects.toMatchObject({ kind: 'not_found', field: 'source' });
    expect(snapshot()).toEqual(before);
  });

  it('rolls everything back when it fails midway', async () => {
    const before = snapshot();
    // fails at the last step, after every message, folder and alias has been moved
    handle.sqlite.exec(`CREATE TRIGGER fail_merge BEFORE DELETE ON accounts WHEN old.id = ${source.id} BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`);
    try {
      await expect(mergeAccounts(handle.db, actor, SOURCE, TARGET)).rejects.toThrow('disk on fire');
    } finally {
      handle.sqlite.exec('DROP TRIGGER fail_merge');
    }
    expect(snapshot()).toEqual(before);
  });

  describe('a successful merge', () => {
    let result: MergeResult;
    let sourceBefore: Record<string, Message[]>;
    let targetInboxBefore: Mailbox;
    let blobsBefore: unknown[];
    let ftsRowsBefore: unknown;
    let bytesBefore: { source: number; target: number };

    beforeAll(async () => {
      sourceBefore = {};
      for (const folder of ['INBOX', 'Sent', 'Projekte', 'Kunden/2026', 'Entwürfe']) sourceBefore[folder] = await messages(source.id, folder);
      targetInboxBefore = await mailbox(target.id, 'INBOX');
      blobsBefore = handle.sqlite.prepare('SELECT id, refcount FROM blobs ORDER BY id').all();
      ftsRowsBefore = handle.sqlite.prepare('SELECT rowid FROM message_text ORDER BY rowid').all();
      bytesBefore = { source: (await account(SOURCE))!.used_bytes, target: (await account(TARGET))!.used_bytes };
      result = await mergeAccounts(handle.db, actor, SOURCE, TARGET);
    });

    it('maps folders by special use, then by name, else creates them with their superiors', async () => {
      expect(result.moved).toBe(6);
      const mapping = Object.fromEntries(result.folders.map((f) => [f.from, f.to]));
      expect(mapping).toMatchObject({ INBOX: 'INBOX', Sent: 'Sent', Projekte: 'Projekte', Kunden: 'Kunden', 'Kunden/2026': 'Kunden/2026', 'Entwürfe': 'Drafts' });
      expect(await writeTransaction(handle.db, (tx) => findMailbox(tx, target.id, 'Entwürfe'))).toBeUndefined();
      for (const f of result.folders) expect(f.mailboxId).toBe((await mailbox(target.id, f.to)).id);
      expect(result.freed).toEqual([]);
    });

    it('gives moved messages UIDs after the existing ones and advances uidnext and highestmodseq', async () => {
      const inbox = await messages(target.id, 'INBOX');
      expect(inbox.map((m) => m.uid)).toEqual([1, 2, 3, 4]);
      const after = await mailbox(target.id, 'INBOX');
      expect(after.uidnext).toBe(targetInboxBefore.uidnext + 2);
      expect(after.highestmodseq).toBeGreaterThan(targetInboxBefore.highestmodseq);
      expect(inbox.slice(2).every((m) => m.modseq === after.highestmodseq)).toBe(true);
      expect(after.uidvalidity).toBe(targetInboxBefore.uidvalidity);
      expect((await messages(target.id, 'Projekte')).map((m) => m.uid)).toEqual([1, 2]);
      expect((await messages(target.id, 'Sent')).map((m) => m.uid)).toEqual([1, 2]);
      expect((await messages(target.id, 'Kunden/2026')).map((m) => m.uid)).toEqual([1]);
      expect((await mailbox(target.id, 'Kunden/2026')).uidnext).toBe(2);
    });

    it('keeps flags, internal dates and the parsed columns of every message', async () => {
      const mapping = Object.fromEntries(result.folders.map((f) => [f.from, f.to]));
      for (const [folder, before] of Object.entries(sourceBefore)) {
        const now = await messages(target.id, mapping[folder]);
        for (const old of before) {
          const moved = now.find((m) => m.id === old.id)!;
          const strip = ({ mailbox_id: _m, uid: _u, modseq: _s, ...rest }: Message) => rest;
          expect(strip(moved)).toEqual(strip(old));
        }
      }
      const [first] = (await messages(target.id, 'INBOX')).filter((m) => m.subject === 'source one');
      expect(first.flags.split(' ').sort()).toEqual(['\\Flagged', '\\Seen']);
      expect(first.internal_date).toBe(Date.UTC(2024, 5, 1, 8, 30));
    });

    it('moves used_bytes and leaves blob refcounts and the text index alone', async () => {
      expect(bytesBefore.source).toBeGreaterThan(0);
      expect((await account(TARGET))!.used_bytes).toBe(bytesBefore.source + bytesBefore.target);
      expect(handle.sqlite.prepare('SELECT id, refcount FROM blobs ORDER BY id').all()).toEqual(blobsBefore);
      expect(blobsBefore).toContainEqual(expect.objectContaining({ refcount: 2 }));
      expect(handle.sqlite.prepare('SELECT rowid FROM message_text ORDER BY rowid').all()).toEqual(ftsRowsBefore);
    });

    it('routes the source address and its aliases to the target', async () => {
      for (const address of [SOURCE, 'anna.alt@example.org', 'anna+news@example.org', 'unknown@example.org']) {
        const verdict = await writeTransaction(handle.db, (tx) => resolveRecipient(tx, address));
        expect(verdict).toMatchObject({ status: 'accept', remote: [] });
        expect(verdict.status === 'accept' && verdict.accounts.map((a) => a.id)).toEqual([target.id]);
      }
      expect(handle.sqlite.prepare('SELECT count(*) AS n FROM forwards').get()).toEqual({ n: 0 });
      expect(handle.sqlite.prepare("SELECT catchall_target FROM domains WHERE name = 'example.org'").get()).toEqual({ catchall_target: TARGET });
    });

    it('deletes the source account and its folders, and audits the merge', async () => {
      expect(await account(SOURCE)).toBeUndefined();
      expect(handle.sqlite.prepare('SELECT count(*) AS n FROM mailboxes WHERE account_id = ?').get(source.id)).toEqual({ n: 0 });
      const entry = await handle.db.selectFrom('audit_log').selectAll().where('action', '=', 'account.merge').executeTakeFirstOrThrow();
      expect(entry.target).toBe(SOURCE);
      expect(JSON.parse(entry.detail)).toMatchObject({ into: TARGET, moved: 6 });
    });
  });
});
