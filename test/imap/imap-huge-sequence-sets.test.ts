// Threat: sequence sets built to cost the server time or memory: a million comma-separated numbers, more parts than
// any client sends, the full 32-bit range, invalid numbers (0, 2^32), and a set of 10,000 scattered UIDs against a
// 100,000-message folder (which must not cost 10^9 comparisons on the event loop: the comparisons of the UID range
// test FETCH filters the folder with are counted here, those of SequenceSet in imap-sequence.test.ts). Also: a set of
// more than 200 ranges in COPY/MOVE acts on every message it names, not the first 200 ranges.
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapWire } from '../helpers/imap-wire.js';
import { accountId, mailSnapshot, storeMail, textMail } from '../helpers/mail-store.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';
import { comparisonCounter } from '../helpers/work.js';
import { MAX_SEQUENCE_PARTS, parseSequenceSet } from '../../server/imap/sequence.js';
import { uidRangeTest } from '../../server/store/mailbox-messages.js';

let server: TestServer;
let port: number;
const open: ImapWire[] = [];

beforeAll(async () => {
  server = await startServer({ overrides: { 'imap.port': 0 } });
  port = server.ports.imap!;
  await provision(server, 'firma.de', ['info', 'buchhaltung', 'gross', 'kopie']);
  for (const subject of ['Eins', 'Zwei', 'Drei']) await storeMail(server, 'info@firma.de', textMail(subject));
});

afterAll(async () => {
  for (const wire of open) wire.close();
  await server?.close();
});

async function selected(address = 'info@firma.de', mailbox = 'INBOX'): Promise<ImapWire> {
  const wire = await ImapWire.connect(port);
  open.push(wire);
  expect((await wire.command('L', `LOGIN ${address} ${PASSWORD}`)).tagged).toMatch(/^L OK /);
  expect((await wire.command('S', `SELECT ${mailbox}`)).tagged).toBe('S OK [READ-WRITE] SELECT completed');
  return wire;
}

/** Fills a folder to `count` messages with copies of its message UID 1 (rows only, the way a big INBOX looks). */
async function fillFolder(address: string, count: number): Promise<void> {
  const { db } = server.app.services;
  const id = await accountId(server, address);
  const box = await db.selectFrom('mailboxes').selectAll().where('account_id', '=', id).where('name', '=', 'INBOX').executeTakeFirstOrThrow();
  const first = await db.selectFrom('messages').select(['blob_id', 'size']).where('mailbox_id', '=', box.id).where('uid', '=', 1).executeTakeFirstOrThrow();
  await sql`WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < ${count})
    INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, size, blob_id, envelope, bodystructure, subject, from_addr, to_addr, cc_addr, bcc_addr, message_id, sent_date)
    SELECT m.mailbox_id, n.i, m.modseq, m.flags, m.internal_date, m.size, m.blob_id, m.envelope, m.bodystructure, m.subject, m.from_addr, m.to_addr, m.cc_addr, m.bcc_addr, m.message_id, m.sent_date
    FROM n, messages m WHERE m.mailbox_id = ${box.id} AND m.uid = 1`.execute(db);
  await db.updateTable('mailboxes').set({ uidnext: count + 1, highestmodseq: box.highestmodseq + 1 }).where('id', '=', box.id).execute();
  await db.updateTable('blobs').set((eb) => ({ refcount: eb('refcount', '+', count - 1) })).where('id', '=', first.blob_id).execute();
  await db.updateTable('accounts').set((eb) => ({ used_bytes: eb('used_bytes', '+', first.size * (count - 1)) })).where('id', '=', id).execute();
}

/** The odd numbers 1, 3, 5, … as a set of n parts. */
const scattered = (n: number) => Array.from({ length: n }, (_, i) => 2 * i + 1).join(',');

describe('sets too large to be real', () => {
  it('1,000,000 comma-separated numbers (7 MB on one line): refused at the line limit, nothing buffered, others unaffected', async () => {
    const wire = await selected();
    const other = await selected();
    const rss = process.memoryUsage().rss;
    wire.write(`h1 FETCH ${Array.from({ length: 1_000_000 }, (_, i) => i + 1).join(',')} UID\r\n`);
    expect(await wire.readLine()).toBe('h1 BAD Line too long');
    expect(await wire.readLine()).toBe('* BYE Line too long');
    await wire.closedByServer(3000);
    expect(process.memoryUsage().rss - rss).toBeLessThan(128 * 1024 * 1024);
    expect((await other.command('o1', 'FETCH 1 UID')).lines).toEqual(['* 1 FETCH (UID 1)', 'o1 OK FETCH completed']);
  });

  it(`more than ${MAX_SEQUENCE_PARTS.toLocaleString('en')} parts within the line limit: BAD in every command that takes a set, nothing done`, async () => {
    const wire = await selected();
    const before = await mailSnapshot(server, 'info@firma.de');
    const set = '1,'.repeat(20_000) + '1';
    const tooMany = `BAD Sequence set has more than ${MAX_SEQUENCE_PARTS} parts`;
    const commands = [
      `FETCH ${set} UID`,
      `UID FETCH ${set} UID`,
      `STORE ${set} +FLAGS (\\Deleted)`,
      `UID STORE ${set} +FLAGS (\\Deleted)`,
      `COPY ${set} Archive`,
      `UID MOVE ${set} Archive`,
      `UID EXPUNGE ${set}`,
      `SEARCH ${set}`,
      `UID SEARCH UID ${set}`
    ];
    for (const [i, command] of commands.entries()) {
      const reply = await wire.command(`p${i}`, command);
      expect(reply.lines).toEqual([`p${i} ${tooMany}`]);
    }
    expect((await wire.command('z', 'FETCH 1:* UID')).lines).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)', 'z OK FETCH completed']);
    expect(await mailSnapshot(server, 'info@firma.de')).toEqual(before);
  });
});

describe('the edges of the number range', () => {
  it('UID 1:4294967295 is the whole folder; 4294967295 alone is nothing', async () => {
    const wire = await selected();
    expect((await wire.command('u1', 'UID FETCH 1:4294967295 UID')).lines).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)', 'u1 OK UID FETCH completed']);
    expect((await wire.command('u2', 'UID FETCH 4294967295:1 UID')).lines).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)', '* 3 FETCH (UID 3)', 'u2 OK UID FETCH completed']);
    expect((await wire.command('u3', 'UID SEARCH UID 1:4294967295')).lines).toEqual(['* SEARCH 1 2 3', 'u3 OK UID SEARCH completed']);
    expect((await wire.command('u4', 'UID FETCH 4294967295 UID')).lines).toEqual(['u4 OK UID FETCH completed']);
    expect((await wire.command('u5', 'UID STORE 1:4294967295 -FLAGS.SILENT (\\Flagged)')).lines).toEqual(['u5 OK UID STORE completed']);
    // as message sequence numbers, numbers above EXISTS are BAD (RFC 9051 §9: seq-number)
    expect((await wire.command('u6', 'FETCH 1:4294967295 UID')).lines).toEqual(['u6 BAD Invalid sequence number: no such message']);
  });

  it('0, 2^32 and malformed numbers are BAD', async () => {
    const wire = await selected();
    const cases: Array<[string, string]> = [
      ['FETCH 0 UID', 'BAD Invalid sequence set 0'],
      ['UID FETCH 0 UID', 'BAD Invalid sequence set 0'],
      ['FETCH 0:2 UID', 'BAD Invalid sequence set 0:2'],
      ['UID FETCH 1:0 UID', 'BAD Invalid sequence set 1:0'],
      ['UID FETCH 4294967296 UID', 'BAD Invalid sequence set 4294967296'],
      ['UID FETCH 1:4294967296 UID', 'BAD Invalid sequence set 1:4294967296'],
      ['UID FETCH 99999999999999999999 UID', 'BAD Invalid sequence set 99999999999999999999'],
      ['UID FETCH 01 UID', 'BAD Invalid sequence set 01'],
      ['UID FETCH 1,,2 UID', 'BAD Invalid sequence set 1,,2'],
      ['UID FETCH 1:2:3 UID', 'BAD Invalid sequence set 1:2:3'],
      ['UID FETCH -1 UID', 'BAD Invalid sequence set -1'],
      ['STORE 0 +FLAGS (\\Seen)', 'BAD Invalid sequence set 0'],
      ['COPY 0 Archive', 'BAD Invalid sequence set 0']
    ];
    for (const [i, [command, answer]] of cases.entries()) expect((await wire.command(`b${i}`, command)).lines).toEqual([`b${i} ${answer}`]);
    for (const [i, command] of ['SEARCH 0', 'UID SEARCH UID 0', 'SEARCH 4294967296'].entries()) {
      expect((await wire.command(`s${i}`, command)).tagged).toMatch(new RegExp(`^s${i} BAD `));
    }
    expect((await wire.command('z', 'NOOP')).tagged).toBe('z OK NOOP completed');
  });
});

describe('large sets against a large folder', () => {
  it('10,000 scattered UIDs against 100,000 messages: each message is tested by binary search, not a scan', () => {
    const set = parseSequenceSet(scattered(9_999));
    const inSet = uidRangeTest(set.resolve(100_000));
    const uid = comparisonCounter();
    let selected = 0;
    for (let from = 1; from <= 100_000; from += 1_000) {
      for (let u = from; u < from + 1_000; u++) if (inSet(uid.of(u))) selected++;
      // at most two comparisons per halving of 9,999 ranges; a scan of them would cost 10^9 for the folder (checked
      // every 1,000 messages, so that fails at once)
      expect(uid.count).toBeLessThanOrEqual((from + 999) * 2 * Math.ceil(Math.log2(10_000)));
    }
    expect(selected).toBe(9_999);
  });

  it('10,000 scattered UIDs against 100,000 messages: FETCH, FETCH by sequence number and SEARCH select exactly them', async () => {
    await storeMail(server, 'gross@firma.de', textMail('Vorlage'));
    await fillFolder('gross@firma.de', 100_000);
    const wire = await selected('gross@firma.de');
    const set = scattered(9_999);
    const byUid = await wire.command('g1', `UID FETCH ${set} UID`, 30_000);
    expect(byUid.lines).toHaveLength(10_000);
    expect(byUid.lines[9_998]).toBe('* 19997 FETCH (UID 19997)');
    expect(byUid.tagged).toBe('g1 OK UID FETCH completed');
    const bySeq = await wire.command('g2', `FETCH ${set} UID`, 30_000);
    expect(bySeq.lines).toHaveLength(10_000);
    expect(bySeq.lines[9_998]).toBe('* 19997 FETCH (UID 19997)');
    const searched = await wire.command('g3', `UID SEARCH RETURN (COUNT) UID ${set}`, 30_000);
    expect(searched.lines).toEqual(['* ESEARCH (TAG "g3") UID COUNT 9999', 'g3 OK UID SEARCH completed']);
  });

  it('UID COPY and UID MOVE with more than 200 ranges act on every message of the set', async () => {
    await storeMail(server, 'kopie@firma.de', textMail('Vorlage'));
    await fillFolder('kopie@firma.de', 700);
    const wire = await selected('kopie@firma.de');
    const set = scattered(300); // UIDs 1, 3, …, 599
    const copied = await wire.command('c1', `UID COPY ${set} Archive`);
    expect(copied.tagged).toMatch(new RegExp(`^c1 OK \\[COPYUID \\d+ ${set} 1:300\\] UID COPY completed$`));
    expect((await wire.command('c2', 'STATUS Archive (MESSAGES)')).lines[0]).toBe('* STATUS "Archive" (MESSAGES 300)');

    const moved = await wire.command('c3', `UID MOVE ${set} Trash`);
    expect(moved.lines[0]).toMatch(new RegExp(`^\\* OK \\[COPYUID \\d+ ${set} 1:300\\] Moved$`));
    expect(moved.lines.filter((l) => / EXPUNGE$/.test(l))).toHaveLength(300);
    expect(moved.tagged).toBe('c3 OK UID MOVE completed');
    expect((await wire.command('c4', 'STATUS Trash (MESSAGES)')).lines[0]).toBe('* STATUS "Trash" (MESSAGES 300)');
    expect((await wire.command('c5', 'SEARCH RETURN (COUNT MIN) ALL')).lines[0]).toBe('* ESEARCH (TAG "c5") MIN 1 COUNT 400');
    expect((await wire.command('c6', 'FETCH 1 UID')).lines[0]).toBe('* 1 FETCH (UID 2)');
  });
});
