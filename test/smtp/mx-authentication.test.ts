// MX inbound authentication driven by real SMTP peers: SPF, DKIM, DMARC dispositions, ARC and removal of forged
// Authentication-Results (RFC 7208, RFC 6376, RFC 7489, RFC 8617, RFC 8601 §5), checked on the stored message.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { authenticate, sealMessage } from 'mailauth';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { startServer, provision, TEST_HOSTNAME, type TestServer } from '../helpers/server.js';
import type { ZoneRecord } from '../helpers/dns-server.js';
import { listMessages } from '../../server/store/messages.js';

const RECIPIENT = 'info@firma.de';
const CLIENT_HELO = 'client.sender.test';

let server: TestServer;
let accountId: number;
let privateKey: string;
let dkimRecord: ZoneRecord;

interface Stored {
  mailbox: 'INBOX' | 'Junk';
  raw: string;
  headers: string;
}

/** RFC 5322 message with CRLF line endings, as a peer would send it. */
function buildMessage(from: string, subject: string, body: string, extraHeaders: string[] = []): string {
  const id = crypto.randomBytes(8).toString('hex');
  return [
    ...extraHeaders,
    `From: ${from}`,
    `To: ${RECIPIENT}`,
    `Subject: ${subject}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${id}@${from.split('@')[1]}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    ''
  ].join('\r\n');
}

async function signDkim(raw: string, domain: string, selector = 'sel'): Promise<string> {
  const result = await dkimSign(raw, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: domain, selector, privateKey }] });
  expect(result.errors ?? []).toEqual([]);
  return result.signatures + raw;
}

function transport(secure = false) {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.ports.smtp,
    secure: false,
    name: CLIENT_HELO,
    ...(secure ? { requireTLS: true, tls: { rejectUnauthorized: false } } : { ignoreTLS: true })
  });
}

/** Sends raw bytes with the given envelope; returns the server's final reply. */
async function send(sender: string, raw: string, secure = false): Promise<string> {
  const info = await transport(secure).sendMail({ envelope: { from: sender, to: [RECIPIENT] }, raw });
  return info.response;
}

/** The one message stored since `before` (a count of INBOX + Junk messages), with its raw header block. */
async function storedSince(before: number): Promise<Stored> {
  const { db, blobs } = server.app.services;
  const inbox = await listMessages(db, accountId, 'INBOX');
  const junk = await listMessages(db, accountId, 'Junk');
  expect(inbox.length + junk.length).toBe(before + 1);
  const newest = [...inbox.map((m) => ({ m, mailbox: 'INBOX' as const })), ...junk.map((m) => ({ m, mailbox: 'Junk' as const }))].sort((a, b) => b.m.id - a.m.id)[0];
  const raw = (await blobs.read(newest.m.blob_id)).toString('latin1');
  return { mailbox: newest.mailbox, raw, headers: raw.slice(0, raw.indexOf('\r\n\r\n') + 2) };
}

async function messageCount(): Promise<number> {
  const { db } = server.app.services;
  return (await listMessages(db, accountId, 'INBOX')).length + (await listMessages(db, accountId, 'Junk')).length;
}

/** Header fields named `name`, unfolded, in order of appearance. */
function fields(headers: string, name: string): string[] {
  return headers
    .split(/\r\n(?![ \t])/)
    .filter((f) => f.toLowerCase().startsWith(name.toLowerCase() + ':'))
    .map((f) => f.slice(name.length + 1).replace(/\r\n[ \t]+/g, ' ').trim());
}

/** Our Authentication-Results (exactly one must exist), split into its method results. */
function ourAuthResults(headers: string): string {
  const ours = fields(headers, 'Authentication-Results').filter((v) => v.toLowerCase().startsWith(TEST_HOSTNAME + ';'));
  expect(ours).toHaveLength(1);
  return ours[0];
}

const spf = (policy: string): ZoneRecord[] => [{ type: 'TXT', data: `v=spf1 ${policy}` }];
const dmarc = (policy: string): ZoneRecord[] => [{ type: 'TXT', data: `v=DMARC1; p=${policy}` }];

describe('MX authentication', () => {
  beforeAll(async () => {
    const keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const spki = keys.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    dkimRecord = { type: 'TXT', data: `v=DKIM1; k=rsa; p=${spki}` };
    server = await startServer();
    await provision(server, 'firma.de', ['info']);
    const account = await server.app.services.db.selectFrom('accounts').select('id').where('address', '=', RECIPIENT).executeTakeFirstOrThrow();
    accountId = account.id;
  });
  afterAll(async () => server?.close());

  describe('SPF', () => {
    it('passes for an authorised client address and writes a complete Received line', async () => {
      server.dns.set('spf-pass.test', spf('ip4:127.0.0.1 -all'));
      const before = await messageCount();
      const reply = await send('alice@spf-pass.test', buildMessage('alice@spf-pass.test', 'SPF pass', 'hello'));
      const queueId = /^250 2\.0\.0 Ok: queued as ([0-9A-F]{16})$/.exec(reply)?.[1];
      expect(queueId, reply).toBeTruthy();
      const stored = await storedSince(before);
      expect(stored.mailbox).toBe('INBOX');

      const ar = ourAuthResults(stored.headers);
      expect(ar).toMatch(/(^|; )spf=pass \(.*\) smtp\.mailfrom=alice@spf-pass\.test smtp\.helo=client\.sender\.test(;|$)/);
      expect(ar).toContain('dkim=none');
      expect(fields(stored.headers, 'Received-SPF')[0]).toMatch(/^pass .*client-ip=127\.0\.0\.1;/);

      // our trace fields come first: Received, then the verification results, then what the peer sent
      expect(stored.headers).toMatch(/^Received: /);
      const received = fields(stored.headers, 'Received')[0];
      expect(received).toMatch(
        new RegExp(
          `^from ${CLIENT_HELO.replace(/\./g, '\\.')} \\(([^ ()]+ )?\\[127\\.0\\.0\\.1\\]\\) by mx\\.postfach\\.test \\(Postfach\\) with ESMTP id ${queueId} for <info@firma\\.de>; \\w{3}, \\d{1,2} \\w{3} \\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000$`
        )
      );
      expect(stored.headers.indexOf('Received:')).toBeLessThan(stored.headers.indexOf('Authentication-Results:'));
      expect(stored.headers.indexOf('Authentication-Results:')).toBeLessThan(stored.headers.indexOf('From: alice@spf-pass.test'));
    });

    it('fails for a client address outside the record, and the message is still delivered', async () => {
      server.dns.set('spf-fail.test', spf('ip4:192.0.2.1 -all'));
      const before = await messageCount();
      await send('bob@spf-fail.test', buildMessage('bob@spf-fail.test', 'SPF fail', 'hello'));
      const stored = await storedSince(before);
      expect(stored.mailbox).toBe('INBOX');
      const ar = ourAuthResults(stored.headers);
      expect(ar).toMatch(/(^|; )spf=fail \(.*\) smtp\.mailfrom=bob@spf-fail\.test/);
      expect(ar).not.toContain('spf=pass');
    });

    it('soft-fails for ~all', async () => {
      server.dns.set('spf-soft.test', spf('ip4:192.0.2.1 ~all'));
      const before = await messageCount();
      await send('carol@spf-soft.test', buildMessage('carol@spf-soft.test', 'SPF softfail', 'hello'));
      const stored = await storedSince(before);
      expect(ourAuthResults(stored.headers)).toMatch(/(^|; )spf=softfail \(.*\) smtp\.mailfrom=carol@spf-soft\.test/);
    });

    it('names ESMTPS and the TLS version in Received when the peer used STARTTLS', async () => {
      server.dns.set('spf-tls.test', spf('ip4:127.0.0.1 -all'));
      const before = await messageCount();
      await send('dora@spf-tls.test', buildMessage('dora@spf-tls.test', 'over TLS', 'hello'), true);
      const stored = await storedSince(before);
      expect(fields(stored.headers, 'Received')[0]).toMatch(/ with ESMTPS id [0-9A-F]{16} \(TLSv1\.[23] [A-Z0-9_-]+\) for <info@firma\.de>;/);
      expect(ourAuthResults(stored.headers)).toContain('spf=pass');
    });
  });

  describe('DKIM', () => {
    beforeAll(() => {
      server.dns.set('sel._domainkey.sender.test', [dkimRecord]);
    });

    it('passes for a message signed by the sender domain', async () => {
      const before = await messageCount();
      const raw = await signDkim(buildMessage('alice@sender.test', 'signed', 'signed body'), 'sender.test');
      await send('alice@sender.test', raw);
      const stored = await storedSince(before);
      const ar = ourAuthResults(stored.headers);
      expect(ar).toMatch(/(^|; )dkim=pass header\.i=@sender\.test header\.s=sel header\.a=rsa-sha256 header\.b=\S+/);
      // the signature itself is kept untouched below our headers
      expect(fields(stored.headers, 'DKIM-Signature')[0]).toMatch(/d=sender\.test;/);
    });

    it('fails when the body was altered after signing', async () => {
      const before = await messageCount();
      const raw = (await signDkim(buildMessage('alice@sender.test', 'tampered', 'pay 10 EUR'), 'sender.test')).replace('pay 10 EUR', 'pay 9999 EUR');
      await send('alice@sender.test', raw);
      const stored = await storedSince(before);
      const ar = ourAuthResults(stored.headers);
      expect(ar).toMatch(/(^|; )dkim=(fail|neutral) \(body hash did not verify\) header\.i=@sender\.test header\.s=sel/);
      expect(ar).not.toContain('dkim=pass');
      expect(stored.raw).toContain('pay 9999 EUR');
    });
  });

  describe('DMARC', () => {
    it('passes with an aligned DKIM signature even when SPF fails', async () => {
      server.dns.set('aligned.test', spf('ip4:192.0.2.1 -all'));
      server.dns.set('_dmarc.aligned.test', dmarc('reject'));
      server.dns.set('sel._domainkey.aligned.test', [dkimRecord]);
      const before = await messageCount();
      const raw = await signDkim(buildMessage('alice@aligned.test', 'aligned', 'hello'), 'aligned.test');
      const reply = await send('alice@aligned.test', raw);
      expect(reply).toMatch(/^250 2\.0\.0 /);
      const stored = await storedSince(before);
      expect(stored.mailbox).toBe('INBOX');
      const ar = ourAuthResults(stored.headers);
      expect(ar).toContain('spf=fail');
      expect(ar).toMatch(/dkim=pass header\.i=@aligned\.test/);
      expect(ar).toMatch(/(^|; )dmarc=pass \(p=REJECT arc=none\) header\.from=aligned\.test/);
    });

    it('refuses a failing message of a p=reject domain with 550 5.7.1 and stores nothing', async () => {
      server.dns.set('reject.test', spf('ip4:192.0.2.1 -all'));
      server.dns.set('_dmarc.reject.test', dmarc('reject'));
      const { db } = server.app.services;
      const before = await messageCount();
      const blobsBefore = await db.selectFrom('blobs').select('id').execute();
      const error = await send('ceo@reject.test', buildMessage('ceo@reject.test', 'wire money', 'now')).then(
        () => null,
        (err: { responseCode?: number; response?: string }) => err
      );
      expect(error?.responseCode).toBe(550);
      expect(error?.response).toMatch(/^550 5\.7\.1 Message rejected by the sender domain DMARC policy: .*reject\.test.*p=reject/);
      expect(await messageCount()).toBe(before);
      expect(await db.selectFrom('blobs').select('id').execute()).toEqual(blobsBefore);
      expect(await db.selectFrom('queue').selectAll().execute()).toEqual([]);
    });

    it('stores a failing message of a p=quarantine domain in Junk, not INBOX', async () => {
      server.dns.set('quarantine.test', spf('ip4:192.0.2.1 -all'));
      server.dns.set('_dmarc.quarantine.test', dmarc('quarantine'));
      const { db } = server.app.services;
      const inboxBefore = (await listMessages(db, accountId, 'INBOX')).length;
      const junkBefore = (await listMessages(db, accountId, 'Junk')).length;
      const reply = await send('news@quarantine.test', buildMessage('news@quarantine.test', 'offer', 'cheap'));
      expect(reply).toMatch(/^250 2\.0\.0 /);
      expect((await listMessages(db, accountId, 'INBOX')).length).toBe(inboxBefore);
      expect((await listMessages(db, accountId, 'Junk')).length).toBe(junkBefore + 1);
      const stored = await storedSince(inboxBefore + junkBefore);
      expect(stored.mailbox).toBe('Junk');
      expect(ourAuthResults(stored.headers)).toMatch(/(^|; )dmarc=fail \(p=QUARANTINE arc=none\) header\.from=quarantine\.test/);
    });

    it('delivers a failing message of a p=none domain to INBOX with dmarc=fail', async () => {
      server.dns.set('monitor.test', spf('ip4:192.0.2.1 -all'));
      server.dns.set('_dmarc.monitor.test', dmarc('none'));
      const before = await messageCount();
      await send('news@monitor.test', buildMessage('news@monitor.test', 'monitor only', 'hello'));
      const stored = await storedSince(before);
      expect(stored.mailbox).toBe('INBOX');
      expect(ourAuthResults(stored.headers)).toMatch(/(^|; )dmarc=fail \(p=NONE arc=none\) header\.from=monitor\.test/);
    });
  });

  describe('ARC', () => {
    /**
     * A mailing list at `sealer` receives a DKIM-signed message of `author`, appends a footer (breaking the
     * author's signature) and seals the result with ARC, recording that the original passed DKIM and DMARC.
     */
    async function forwardedThroughList(author: string, sealer: string): Promise<string> {
      const domain = author.split('@')[1];
      server.dns.set(`sel._domainkey.${domain}`, [dkimRecord]);
      server.dns.set(`arc._domainkey.${sealer}`, [dkimRecord]);
      const original = await signDkim(buildMessage(author, 'list post', 'original text'), domain);
      const { arc } = await authenticate(Buffer.from(original), {
        ip: '192.0.2.99',
        helo: 'mail.' + domain,
        sender: author,
        mta: `lists.${sealer}`,
        resolver: server.app.services.resolver.resolve,
        disableBimi: true
      });
      expect(arc.authResults).toMatch(/dkim=pass/);
      const modified = original.replace('original text\r\n', 'original text\r\n-- \r\nlist footer\r\n');
      const seal = await sealMessage(Buffer.from(modified), {
        signingDomain: sealer,
        selector: 'arc',
        privateKey,
        authResults: arc.authResults,
        cv: arc.status.result
      });
      return seal.toString('latin1') + modified;
    }

    it('verifies a valid ARC set as arc=pass', async () => {
      server.dns.set('_dmarc.author.test', dmarc('none'));
      const before = await messageCount();
      await send('bounces@list.test', await forwardedThroughList('alice@author.test', 'list.test'));
      const stored = await storedSince(before);
      const ar = ourAuthResults(stored.headers);
      expect(ar).toMatch(/(^|; )arc=pass \(i=1 .*dkim=pass dkdomain=author\.test.*\)/);
      expect(ar).toMatch(/dkim=(fail|neutral) \(body hash did not verify\) header\.i=@author\.test/);
      expect(ar).toContain('dmarc=fail');
      expect(fields(stored.headers, 'ARC-Seal')[0]).toMatch(/i=1; .*d=list\.test/);
    });

    it('does not let an ARC set of an untrusted sealer lift a p=reject policy', async () => {
      // anyone can publish a key and seal: only sealers the receiver trusts may override DMARC (RFC 8617 §7.2)
      server.dns.set('_dmarc.victim.test', dmarc('reject'));
      const before = await messageCount();
      const error = await send('bounces@evil-list.test', await forwardedThroughList('ceo@victim.test', 'evil-list.test')).then(
        () => null,
        (err: { response?: string }) => err
      );
      expect(error?.response).toMatch(/^550 5\.7\.1 Message rejected by the sender domain DMARC policy/);
      expect(await messageCount()).toBe(before);
    });

    it('lets an ARC set of a trusted sealer lift a p=reject policy', async () => {
      // fastmail.com is on mailauth's list of ARC community sealers; its key is published in the test zone
      server.dns.set('_dmarc.strict-author.test', dmarc('reject'));
      const before = await messageCount();
      const reply = await send('bounces@fastmail.com', await forwardedThroughList('alice@strict-author.test', 'fastmail.com'));
      expect(reply).toMatch(/^250 2\.0\.0 /);
      const stored = await storedSince(before);
      expect(stored.mailbox).toBe('INBOX');
      const ar = ourAuthResults(stored.headers);
      expect(ar).toMatch(/arc=pass/);
      expect(ar).toMatch(/dmarc=fail \(p=REJECT arc=pass\)/);
    });
  });

  describe('forged Authentication-Results', () => {
    it('removes a sender-supplied Authentication-Results naming this host and keeps other hosts\' results', async () => {
      const forged = [
        `Authentication-Results: ${TEST_HOSTNAME}; dkim=pass header.d=firma.de; spf=pass smtp.mailfrom=ceo@firma.de`,
        `Authentication-Results: MX.Postfach.Test;\r\n dmarc=pass header.from=firma.de`,
        'Authentication-Results: relay.other.test; spf=pass smtp.mailfrom=x@other.test'
      ];
      const before = await messageCount();
      await send('mallory@forger.test', buildMessage('ceo@firma.de', 'urgent', 'trust me', forged));
      const stored = await storedSince(before);
      const ar = ourAuthResults(stored.headers);
      expect(ar).toContain('dkim=none');
      expect(ar).toMatch(/spf=none .*smtp\.mailfrom=mallory@forger\.test/);
      expect(stored.raw).not.toContain('header.d=firma.de');
      expect(stored.raw).not.toContain('dmarc=pass header.from=firma.de');
      expect(stored.raw).not.toMatch(/MX\.Postfach\.Test/);
      expect(fields(stored.headers, 'Authentication-Results')).toEqual([expect.stringMatching(/^mx\.postfach\.test;/), 'relay.other.test; spf=pass smtp.mailfrom=x@other.test']);
      expect(stored.raw).toContain('Subject: urgent\r\n');
    });

    it('removes it from a message that is all header section (RFC 5322 §3.5: the body is optional)', async () => {
      const before = await messageCount();
      const raw = `Authentication-Results: ${TEST_HOSTNAME}; dkim=pass header.d=firma.de\r\nFrom: ceo@firma.de\r\nTo: ${RECIPIENT}\r\nSubject: no body\r\n`;
      await send('mallory@forger.test', raw);
      const stored = await storedSince(before);
      expect(fields(stored.raw, 'Authentication-Results')).toEqual([expect.stringMatching(/^mx\.postfach\.test; dkim=none/)]);
      expect(stored.raw).not.toContain('header.d=firma.de');
      expect(stored.raw.endsWith('From: ceo@firma.de\r\nTo: info@firma.de\r\nSubject: no body\r\n')).toBe(true);
    });

    it('removes it when the header section is larger than the in-memory part of the message', async () => {
      const filler = Array.from({ length: 14_000 }, (_, i) => `X-Filler-${i}: ${'f'.repeat(70)}`); // ~1.2 MB of header lines
      const raw = buildMessage('ceo@firma.de', 'huge header', 'body after a huge header', [`Authentication-Results: ${TEST_HOSTNAME}; dkim=pass header.d=firma.de`, ...filler]);
      expect(raw.length).toBeGreaterThan(1024 * 1024);
      const before = await messageCount();
      await send('mallory@forger.test', raw);
      const stored = await storedSince(before);
      const headers = stored.raw.slice(0, stored.raw.indexOf('\r\n\r\n') + 2);
      expect(fields(headers, 'Authentication-Results')).toEqual([expect.stringMatching(/^mx\.postfach\.test;/)]);
      expect(stored.raw).not.toContain('header.d=firma.de');
      expect(stored.raw).toContain('X-Filler-13999: ');
      expect(stored.raw.endsWith('\r\n\r\nbody after a huge header\r\n')).toBe(true);
    });

    it('stores a message larger than the in-memory spool with its structure computed from all of it', async () => {
      const body = Array.from({ length: 30_000 }, (_, i) => `Zeile ${i} ${'b'.repeat(60)}`).join('\r\n'); // ~2 MB body
      const raw = buildMessage('ceo@firma.de', 'large body', body, [`Authentication-Results: ${TEST_HOSTNAME}; dkim=pass header.d=firma.de`]);
      const before = await messageCount();
      await send('mallory@forger.test', raw);
      const stored = await storedSince(before);
      expect(stored.raw).not.toContain('header.d=firma.de');
      const [row] = (await listMessages(server.app.services.db, accountId, 'INBOX')).slice(-1);
      expect(row.size).toBe(Buffer.byteLength(stored.raw, 'latin1'));
      expect(row.subject).toBe('large body');
      const structure = JSON.parse(row.bodystructure) as { bodyEnd: number; lines: number };
      expect(structure.bodyEnd).toBe(row.size);
      expect(structure.lines).toBe(30_000);
    });
  });
});
