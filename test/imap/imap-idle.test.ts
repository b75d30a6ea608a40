// IDLE and change notification between sessions, driven by imapflow: a delivery through the MX, flag changes and
// expunges made in one session reach the others (EXISTS, FETCH FLAGS, EXPUNGE or VANISHED) while they idle or on NOOP;
// sessions on other folders or accounts hear nothing; CONDSTORE CHANGEDSINCE and a QRESYNC reconnect report what changed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow, type ExistsEvent, type ExpungeEvent, type FlagsEvent, type ImapFlowOptions } from 'imapflow';
import nodemailer from 'nodemailer';
import { provision, startServer, type TestServer } from '../helpers/server.js';
import { connectImapFlow } from '../helpers/imapflow-client.js';

const INFO = 'info@firma.de';
const BUCHHALTUNG = 'buchhaltung@firma.de';
const EMPFANG = 'empfang@firma.de';
/**
 * How long to wait for an update before deciding it never came. The server pushes updates to an idling session as
 * they happen (no client here polls), so a missing push fails here; how fast pushes arrive is `bench imap`'s business.
 */
const PROMPT_MS = 10_000;
/** How long to listen for updates that must not come. */
const QUIET_MS = 400;

let server: TestServer;
const open: ImapFlow[] = [];

interface Watched {
  client: ImapFlow;
  exists: ExistsEvent[];
  flags: FlagsEvent[];
  expunge: ExpungeEvent[];
  /** every update event in arrival order */
  all: string[];
}

/** A logged-in client whose update events are recorded. No auto-IDLE: each test says when a session idles. */
async function connect(user = INFO, options: Partial<ImapFlowOptions> = {}): Promise<Watched> {
  const client = await connectImapFlow(server.ports.imap!, user, open, options);
  const watched: Watched = { client, exists: [], flags: [], expunge: [], all: [] };
  client.on('exists', (e) => {
    watched.exists.push(e);
    watched.all.push(`exists ${e.count}`);
  });
  client.on('flags', (e) => {
    watched.flags.push(e);
    watched.all.push(`flags ${e.uid ?? e.seq}`);
  });
  client.on('expunge', (e) => {
    watched.expunge.push(e);
    watched.all.push(`expunge ${e.vanished ? `uid ${e.uid}` : `seq ${e.seq}`}`);
  });
  return watched;
}

/** Clears what a session recorded so far (what opening the mailbox produced, for instance). */
function reset(...sessions: Watched[]): void {
  for (const s of sessions) {
    s.exists.length = 0;
    s.flags.length = 0;
    s.expunge.length = 0;
    s.all.length = 0;
  }
}

async function until(what: string, condition: () => boolean, timeoutMs = PROMPT_MS): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Starts IDLE and waits until the server accepted it (imapflow's idle() resolves only when IDLE ends). */
async function idle(session: Watched): Promise<void> {
  void session.client.idle().catch(() => undefined);
  await until('IDLE to start', () => session.client.idling);
}

async function deliver(to: string, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp!, secure: false, ignoreTLS: true, name: 'mail.sender.test' });
  try {
    const info = await transport.sendMail({ from: 'absender@sender.test', to, subject, text: `${subject}\n` });
    expect(info.accepted).toEqual([to]);
  } finally {
    transport.close();
  }
}

async function uidsOf(session: Watched): Promise<number[]> {
  return (await session.client.fetchAll('1:*', { uid: true })).map((m) => m.uid);
}

/** A folder of info's with `count` messages, for a test to change without disturbing the others. */
async function folderWith(name: string, count: number): Promise<void> {
  const setup = await connect();
  await setup.client.mailboxCreate(name);
  for (let i = 1; i <= count; i++) await setup.client.append(name, `From: absender@sender.test\r\nSubject: ${name} ${i}\r\n\r\nText ${i}\r\n`);
  await setup.client.logout();
}

describe('IMAP IDLE and updates between sessions (imapflow)', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'imap.port': 0, 'imaps.port': 0 } });
    await provision(server, 'firma.de', ['info', 'buchhaltung', 'empfang']);
    await deliver(INFO, 'Erste Nachricht');
    await deliver(INFO, 'Zweite Nachricht');
  });

  afterEach(async () => {
    for (const client of open.splice(0)) if (client.usable) await client.logout().catch(() => client.close());
  });

  afterAll(async () => server?.close());

  it('reports a delivery through the MX to an idling session as EXISTS while it idles', async () => {
    const a = await connect();
    // imapflow keeps updating the object it returned: copy what it said at SELECT
    const { exists, uidNext } = await a.client.mailboxOpen('INBOX');
    expect(exists).toBe(2);
    reset(a);
    await idle(a);
    await deliver(INFO, 'Neu während IDLE');
    // the client sends nothing while it idles: the EXISTS can only be the server's push
    await until('EXISTS', () => a.exists.length > 0);
    expect(a.exists).toEqual([{ path: 'INBOX', count: exists + 1, prevCount: exists }]);
    expect(a.client.idling).toBe(true); // still idling: the update came inside IDLE
    // the announced message is there under the new sequence number
    const newest = await a.client.fetchOne(String(exists + 1), { envelope: true, uid: true });
    expect(newest && newest.envelope?.subject).toBe('Neu während IDLE');
    expect(newest && newest.uid).toBe(uidNext);
  });

  it('counts deliveries that commit together once each: EXISTS never runs ahead of the messages', async () => {
    await folderWith('Gleichzeitig', 1);
    const a = await connect();
    await a.client.mailboxOpen('Gleichzeitig');
    const writers = await Promise.all([1, 2, 3, 4, 5, 6].map(() => connect()));
    reset(a);
    await idle(a);
    // six APPENDs at once: the write queue commits them in one transaction and each is published right after
    await Promise.all(writers.map((w, i) => w.client.append('Gleichzeitig', `Subject: parallel ${i}\r\n\r\nText\r\n`)));
    await until('EXISTS 7', () => a.exists.some((e) => e.count >= 7));
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    expect(a.exists.map((e) => e.count).at(-1)).toBe(7);
    expect(Math.max(...a.exists.map((e) => e.count))).toBe(7);
    const uids = await uidsOf(a);
    expect(uids).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(a.client.mailbox && a.client.mailbox.exists).toBe(7);
  });

  it('reports a flag set in another session to an idling session as FETCH FLAGS with UID and MODSEQ', async () => {
    const a = await connect();
    const b = await connect(INFO, { doSTARTTLS: true });
    await a.client.mailboxOpen('INBOX');
    await b.client.mailboxOpen('INBOX');
    const [first] = await uidsOf(b);
    reset(a, b);
    await idle(a);
    await b.client.messageFlagsAdd(String(first), ['\\Flagged', '$Wichtig'], { uid: true });
    await until('FETCH FLAGS', () => a.flags.length > 0);
    const after = await b.client.fetchOne(String(first), { uid: true, flags: true }, { uid: true });
    expect(a.flags).toHaveLength(1);
    expect(a.flags[0]).toMatchObject({ path: 'INBOX', seq: 1, uid: first, modseq: after && after.modseq });
    expect([...a.flags[0].flags].sort()).toEqual(['$Wichtig', '\\Flagged']);
    expect(a.exists).toEqual([]);
    expect(a.expunge).toEqual([]);

    // removing the flag again is one more update, with a higher modseq
    await b.client.messageFlagsRemove(String(first), ['\\Flagged', '$Wichtig'], { uid: true });
    await until('the second FETCH FLAGS', () => a.flags.length > 1);
    expect([...a.flags[1].flags]).toEqual([]);
    expect(a.flags[1].modseq! > a.flags[0].modseq!).toBe(true);
  });

  it('reports an expunge in another session to an idling session as EXPUNGE with the sequence number', async () => {
    await folderWith('Expunge', 3);
    const a = await connect();
    const b = await connect(INFO, { port: server.ports.imaps!, secure: true });
    await a.client.mailboxOpen('Expunge');
    await b.client.mailboxOpen('Expunge');
    const uids = await uidsOf(b);
    reset(a, b);
    await idle(a);
    await b.client.messageDelete(String(uids[1]), { uid: true });
    await until('EXPUNGE', () => a.expunge.length > 0);
    expect(a.expunge).toEqual([{ path: 'Expunge', seq: 2, vanished: false }]);
    expect(a.client.mailbox && a.client.mailbox.exists).toBe(2);
    // A's sequence numbers now agree with the server's
    expect(await uidsOf(a)).toEqual([uids[0], uids[2]]);
  });

  it('reports an expunge as VANISHED with the UID to a session that enabled QRESYNC', async () => {
    await folderWith('Vanished', 3);
    const a = await connect(INFO, { qresync: true });
    expect(a.client.enabled.has('QRESYNC')).toBe(true);
    const b = await connect();
    await a.client.mailboxOpen('Vanished');
    await b.client.mailboxOpen('Vanished');
    const uids = await uidsOf(b);
    reset(a, b);
    await idle(a);
    await b.client.messageDelete(`${uids[0]},${uids[2]}`, { uid: true });
    await until('VANISHED', () => a.expunge.length >= 2);
    expect(a.expunge).toEqual([
      { path: 'Vanished', uid: uids[0], vanished: true, earlier: false },
      { path: 'Vanished', uid: uids[2], vanished: true, earlier: false }
    ]);
    expect(a.client.mailbox && a.client.mailbox.exists).toBe(1);
    expect(await uidsOf(a)).toEqual([uids[1]]);
  });

  it('delivers pending updates with the reply to NOOP', async () => {
    await folderWith('Noop', 3);
    const a = await connect();
    const b = await connect();
    await a.client.mailboxOpen('Noop');
    await b.client.mailboxOpen('Noop');
    const uids = await uidsOf(b);
    reset(a, b);
    await b.client.messageFlagsAdd(String(uids[2]), ['\\Seen'], { uid: true });
    await b.client.messageDelete(String(uids[0]), { uid: true });
    const appended = await b.client.append('Noop', 'Subject: noch eine\r\n\r\nText\r\n');
    expect(a.all).toEqual([]); // A sent no command and does not idle

    await a.client.noop();
    expect(a.expunge).toEqual([{ path: 'Noop', seq: 1, vanished: false }]);
    expect(a.exists).toEqual([{ path: 'Noop', count: 3, prevCount: 2 }]);
    expect(a.flags).toHaveLength(1);
    expect(a.flags[0]).toMatchObject({ uid: uids[2], seq: 2 }); // its sequence number after the expunge
    expect([...a.flags[0].flags]).toEqual(['\\Seen']);
    expect(a.client.mailbox && a.client.mailbox.exists).toBe(3);
    expect(await uidsOf(a)).toEqual([uids[1], uids[2], appended && appended.uid]);

    // a second NOOP has nothing more to say
    reset(a);
    await a.client.noop();
    expect(a.all).toEqual([]);
  });

  it('lets three sessions on one mailbox see each other\'s changes while another folder and another account hear nothing', async () => {
    await folderWith('Team', 2);
    const a = await connect();
    const b = await connect(INFO, { doSTARTTLS: true });
    const c = await connect(INFO, { port: server.ports.imaps!, secure: true, qresync: true });
    const otherFolder = await connect();
    const otherAccount = await connect(BUCHHALTUNG);
    for (const s of [a, b, c]) await s.client.mailboxOpen('Team');
    await otherFolder.client.mailboxOpen('INBOX');
    await otherAccount.client.mailboxOpen('INBOX');
    const uids = await uidsOf(a);
    reset(a, b, c, otherFolder, otherAccount);
    await idle(otherFolder);
    await idle(otherAccount);

    // A flags: B and C hear it
    await idle(b);
    await idle(c);
    await a.client.messageFlagsAdd(String(uids[0]), ['\\Answered'], { uid: true });
    await until('B and C to get FETCH FLAGS', () => b.flags.length > 0 && c.flags.length > 0);
    for (const s of [b, c]) expect(s.flags.map((f) => [f.uid, [...f.flags]])).toEqual([[uids[0], ['\\Answered']]]);
    expect(a.flags.filter((f) => f.uid === uids[0])).toHaveLength(1); // A's own STORE reply, not a second update

    // C appends: A and B hear EXISTS
    reset(a, b, c);
    await idle(a);
    const appended = await c.client.append('Team', 'Subject: von C\r\n\r\nText\r\n');
    await until('A and B to get EXISTS', () => a.exists.length > 0 && b.exists.length > 0);
    expect(a.exists).toEqual([{ path: 'Team', count: 3, prevCount: 2 }]);
    expect(b.exists).toEqual([{ path: 'Team', count: 3, prevCount: 2 }]);

    // B expunges: A hears EXPUNGE, C (QRESYNC) hears VANISHED
    reset(a, b, c);
    await idle(c);
    await idle(a);
    await b.client.messageDelete(String(uids[1]), { uid: true });
    await until('A and C to hear of the expunge', () => a.expunge.length > 0 && c.expunge.length > 0);
    expect(a.expunge).toEqual([{ path: 'Team', seq: 2, vanished: false }]);
    expect(c.expunge).toEqual([{ path: 'Team', uid: uids[1], vanished: true, earlier: false }]);

    // a delivery to INBOX is heard by the session on INBOX only
    reset(a, b, c);
    await idle(a);
    await idle(b);
    await idle(c);
    await deliver(INFO, 'Für den Posteingang');
    await until('INBOX session to get EXISTS', () => otherFolder.exists.length > 0);
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    for (const s of [a, b, c]) expect(s.all).toEqual([]);

    // all three agree on the folder; the other account heard nothing at all
    const expected = [uids[0], appended && appended.uid];
    for (const s of [a, b, c]) expect(await uidsOf(s)).toEqual(expected);
    expect(otherFolder.all).toEqual([`exists ${otherFolder.exists[0].count}`]);
    expect(otherAccount.all).toEqual([]);
    await otherAccount.client.noop();
    expect(otherAccount.all).toEqual([]);
    expect(otherAccount.client.mailbox && otherAccount.client.mailbox.exists).toBe(0);
  });

  it('announces a MOVE as EXPUNGE in the source folder and EXISTS in the target folder', async () => {
    await folderWith('Quelle', 2);
    await folderWith('Ziel', 1);
    const source = await connect();
    const target = await connect(INFO, { qresync: true });
    const mover = await connect();
    await source.client.mailboxOpen('Quelle');
    await target.client.mailboxOpen('Ziel');
    await mover.client.mailboxOpen('Quelle');
    const uids = await uidsOf(mover);
    reset(source, target, mover);
    await idle(source);
    await idle(target);
    const moved = await mover.client.messageMove(String(uids[0]), 'Ziel', { uid: true });
    await until('EXPUNGE in Quelle and EXISTS in Ziel', () => source.expunge.length > 0 && target.exists.length > 0);
    expect(source.expunge).toEqual([{ path: 'Quelle', seq: 1, vanished: false }]);
    expect(target.exists).toEqual([{ path: 'Ziel', count: 2, prevCount: 1 }]);
    expect(target.expunge).toEqual([]);
    expect(await uidsOf(target)).toEqual([1, moved && moved.uidMap?.get(uids[0])]);
    expect(await uidsOf(source)).toEqual([uids[1]]);
  });

  it('tells a session on INBOX that its messages left when another session renames INBOX', async () => {
    const setup = await connect(EMPFANG);
    await setup.client.append('INBOX', 'Subject: eins\r\n\r\nText\r\n');
    await setup.client.append('INBOX', 'Subject: zwei\r\n\r\nText\r\n');
    const a = await connect(EMPFANG);
    const { exists } = await a.client.mailboxOpen('INBOX');
    expect(exists).toBe(2);
    reset(a);
    await idle(a);
    // RFC 9051 §6.3.6: renaming INBOX moves its messages into the new folder and leaves INBOX empty
    await setup.client.mailboxRename('INBOX', 'Alter Posteingang');
    expect(await setup.client.status('Alter Posteingang', { messages: true })).toMatchObject({ messages: 2 });
    await until('EXPUNGE of both messages', () => a.expunge.length >= 2);
    expect(a.client.mailbox && a.client.mailbox.exists).toBe(0);
    expect(await a.client.fetchAll('1:*', { uid: true })).toEqual([]);
  });

  describe('CONDSTORE and QRESYNC', () => {
    it('FETCH CHANGEDSINCE returns only the messages changed after the given modseq', async () => {
      await folderWith('Changed', 5);
      const a = await connect();
      const box = await a.client.mailboxOpen('Changed');
      const uids = await uidsOf(a);
      const since = box.highestModseq!;
      expect(typeof since).toBe('bigint');
      expect(await a.client.fetchAll('1:*', { uid: true, flags: true }, { changedSince: since })).toEqual([]);

      const b = await connect();
      await b.client.mailboxOpen('Changed');
      await b.client.messageFlagsAdd(`${uids[1]},${uids[3]}`, ['\\Seen'], { uid: true });
      const changed = await a.client.fetchAll('1:*', { uid: true, flags: true }, { changedSince: since });
      expect(changed.map((m) => m.uid)).toEqual([uids[1], uids[3]]);
      for (const m of changed) {
        expect([...m.flags!]).toEqual(['\\Seen']);
        expect(m.modseq! > since).toBe(true);
      }
      // only what changed after the later modseq
      const middle = changed[0].modseq!;
      await b.client.messageFlagsAdd(String(uids[4]), ['\\Flagged'], { uid: true });
      const later = await a.client.fetchAll('1:*', { uid: true, flags: true }, { changedSince: middle });
      expect(later.map((m) => m.uid)).toEqual([uids[4]]);
      // CHANGEDSINCE by UID range, too
      expect((await a.client.fetchAll(`${uids[0]}:${uids[3]}`, { uid: true }, { uid: true, changedSince: since })).map((m) => m.uid)).toEqual([uids[1], uids[3]]);
    });

    it('a QRESYNC reconnect reports the UIDs expunged since the last known modseq and the changed flags', async () => {
      await folderWith('Resync', 6);
      const setup = await connect();
      await setup.client.mailboxOpen('Resync');
      const uids = await uidsOf(setup);
      // expunged before the client's snapshot: must not be reported again
      await setup.client.messageDelete(String(uids[0]), { uid: true });

      const first = await connect(INFO, { qresync: true });
      const known = await first.client.mailboxOpen('Resync');
      const knownModseq = known.highestModseq!;
      const uidValidity = known.uidValidity;
      await first.client.logout();

      // meanwhile, elsewhere: two expunged, one flagged, one new
      await setup.client.messageDelete(`${uids[2]},${uids[4]}`, { uid: true });
      await setup.client.messageFlagsAdd(String(uids[3]), ['\\Flagged'], { uid: true });
      const appended = await setup.client.append('Resync', 'Subject: neu\r\n\r\nText\r\n');

      const again = await connect(INFO, { qresync: true });
      const box = await again.client.mailboxOpen('Resync', { uidValidity, changedSince: knownModseq });
      expect(box.exists).toBe(4);
      expect(again.expunge).toEqual([
        { path: 'Resync', uid: uids[2], vanished: true, earlier: true },
        { path: 'Resync', uid: uids[4], vanished: true, earlier: true }
      ]);
      const flagged = again.flags.map((f) => [f.uid, [...f.flags]]);
      expect(flagged).toEqual(expect.arrayContaining([[uids[3], ['\\Flagged']]]));
      expect(flagged.map(([uid]) => uid)).not.toContain(uids[1]); // unchanged since the snapshot
      expect(again.flags.map((f) => f.uid)).toContain(appended && appended.uid); // new since the snapshot, so "changed"
      for (const f of again.flags) expect(f.modseq! > knownModseq).toBe(true);

      // with a different UIDVALIDITY the server must not resynchronise: no VANISHED, no FETCH
      const stale = await connect(INFO, { qresync: true });
      await stale.client.mailboxOpen('Resync', { uidValidity: uidValidity + 1n, changedSince: knownModseq });
      expect(stale.all).toEqual([]);
    });
  });
});
