// The outbound queue against a second SMTP server playing the remote MX, found through the loopback DNS server:
// DKIM signature verifies against the published key, retries after 451, DSN after 550 and after expiry (never for
// a DSN), MX/implicit-MX/null-MX routing, connection reuse, SRS round trip and ARC seal on forwards.
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { authenticate } from 'mailauth';
import { startServer, provision, actor, PASSWORD, TEST_HOSTNAME, type TestServer } from '../helpers/server.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startRemoteMx, routeDomainTo, type RemoteMx } from '../helpers/remote-mx.js';
import { queuedRecipients } from '../helpers/stored-state.js';
import { eventually } from '../helpers/smtp-wire.js';
import { addForward } from '../../server/directory/routing.js';
import { expectedRecords } from '../../server/dns/records.js';
import { createResolver } from '../../server/dns/resolver.js';
import { listMessages } from '../../server/store/messages.js';

let dns: TestDnsServer;
let remote: RemoteMx;
let server: TestServer;

const resolver = () => createResolver({ servers: [dns.address], timeout: 2000 });

function submitter() {
  return nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.ports.submission,
    secure: false,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'info@firma.de', pass: PASSWORD }
  });
}

const message = (to: string, subject: string, extra: string[] = []) =>
  [`From: Info <info@firma.de>`, `To: ${to}`, `Subject: ${subject}`, ...extra, 'MIME-Version: 1.0', 'Content-Type: text/plain; charset=utf-8', '', `Body of ${subject}`, ''].join('\r\n');

async function submit(to: string[], subject: string, extra: string[] = []) {
  return submitter().sendMail({ envelope: { from: 'info@firma.de', to }, raw: message(to.join(', '), subject, extra) });
}

/** The transaction the remote MX accepted for this subject (waits for it). */
async function arrived(subject: string, timeout = 15_000) {
  let found: (typeof remote.received)[number] | undefined;
  await eventually(() => !!(found = remote.received.find((t) => t.raw.includes(`Subject: ${subject}`))), timeout, 50);
  expect(found, `remote MX never got "${subject}"`).toBeDefined();
  return found!;
}

async function inbox(address: string) {
  const { db } = server.app.services;
  const account = await db.selectFrom('accounts').select('id').where('address', '=', address).executeTakeFirstOrThrow();
  return listMessages(db, account.id, 'INBOX');
}

/** The DSN in `address`'s INBOX about `subject` (waits for it). */
async function dsnAbout(address: string, subject: string, timeout = 15_000): Promise<string> {
  let raw = '';
  await eventually(
    async () => {
      for (const m of await inbox(address)) {
        const text = (await server.app.services.blobs.read(m.blob_id)).toString('latin1');
        if (text.includes('report-type=delivery-status') && text.includes(`Subject: ${subject}`)) raw = text;
      }
      return !!raw;
    },
    timeout,
    100
  );
  expect(raw, `no DSN about "${subject}"`).not.toBe('');
  return raw;
}

const queueEmpty = async () => (await queuedRecipients(server)).length === 0;

describe('outbound queue', () => {
  beforeAll(async () => {
    dns = await startDnsServer({});
    remote = await startRemoteMx();
    server = await startServer({
      dns,
      overrides: { 'submission.port': 0, 'queue.remotePort': remote.port, 'queue.retryDelay': 1, 'queue.retryMaxDelay': 1 }
    });
    await provision(server, 'firma.de', ['info', 'anna']);
    await addForward(server.app.services.db, actor, 'anna@firma.de', 'anna@remote.test', true);
    const domain = await server.app.services.db.selectFrom('domains').selectAll().where('name', '=', 'firma.de').executeTakeFirstOrThrow();
    // publish what the records page tells the owner to publish
    for (const record of expectedRecords(domain, TEST_HOSTNAME)) {
      if (record.type === 'TXT') dns.set(record.name, [{ type: 'TXT', data: record.value }]);
    }
    dns.set('firma.de', [{ type: 'TXT', data: 'v=spf1 ip4:127.0.0.1 -all' }, { type: 'MX', exchange: TEST_HOSTNAME, priority: 10 }]);
    routeDomainTo(dns, 'remote.test');
    routeDomainTo(dns, 'sender.test');
  });
  afterAll(async () => {
    await server?.close();
    await remote?.close();
    await dns?.close();
  });

  it('delivers submitted mail to the MX of the recipient domain, DKIM-signed so that it verifies against the published key', async () => {
    const subject = `dkim-${crypto.randomUUID()}`;
    const info = await submit(['bob@remote.test'], subject);
    expect(info.response).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]{16}$/);
    const t = await arrived(subject);
    expect(t.from).toBe('info@firma.de');
    expect(t.to).toEqual(['bob@remote.test']);
    expect(t.helo).toBe(TEST_HOSTNAME);
    const result = await authenticate(t.raw, { ip: '127.0.0.1', helo: TEST_HOSTNAME, sender: 'info@firma.de', mta: 'mx.remote.test', resolver: resolver().resolve, disableBimi: true });
    expect(result.dkim.results.map((r: any) => [r.signingDomain, r.status.result])).toEqual([['firma.de', 'pass']]);
    expect(result.dmarc.status.result).toBe('pass');
    // RFC 6409 §8: Message-ID and Date added by us because the client sent none
    const header = t.raw.toString('latin1').split('\r\n\r\n')[0];
    expect(header).toMatch(/\r\nMessage-ID: <[0-9a-f-]{36}@firma\.de>\r\n/);
    expect(header).toMatch(/\r\nDate: \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000\r\n/);
    await eventually(queueEmpty, 5000);
    expect(await queuedRecipients(server)).toEqual([]);
  });

  it('sends one transaction per domain for several recipients there, over a reused connection', async () => {
    const first = `batch-${crypto.randomUUID()}`;
    const second = `batch-${crypto.randomUUID()}`;
    await submit(['c1@remote.test', 'c2@remote.test'], first);
    const t = await arrived(first);
    const before = remote.connections;
    expect(t.to.sort()).toEqual(['c1@remote.test', 'c2@remote.test']);
    await submit(['c3@remote.test'], second);
    await arrived(second);
    // the pooled connection of the first message carried the second as well
    expect(remote.connections - before).toBe(0);
  });

  it('retries after a 451 and delivers on a later attempt', async () => {
    const subject = `retry-${crypto.randomUUID()}`;
    let refusals = 0;
    remote.onRcpt = (rcpt) => (rcpt === 'later@remote.test' && refusals++ < 2 ? { code: 451, text: '4.7.1 Greylisted, try again' } : null);
    try {
      await submit(['later@remote.test'], subject);
      await eventually(async () => (await queuedRecipients(server, { recipient: 'later@remote.test' })).some((r) => r.attempts >= 1), 10_000, 50);
      const [row] = await queuedRecipients(server, { recipient: 'later@remote.test' });
      expect(row).toMatchObject({ status: 'pending', domain: 'remote.test', origin: 'submission' });
      expect(row.last_error).toMatch(/^451 4\.7\.1 Greylisted, try again/);
      const t = await arrived(subject);
      expect(t.to).toEqual(['later@remote.test']);
      expect(refusals).toBeGreaterThanOrEqual(3);
      await eventually(queueEmpty, 5000);
    } finally {
      remote.onRcpt = () => null;
    }
  });

  it('bounces a 550 with an RFC 3464 DSN to the sender mailbox, delivering the other recipients', async () => {
    const subject = `bounce-${crypto.randomUUID()}`;
    remote.onRcpt = (rcpt) => (rcpt === 'nobody@remote.test' ? { code: 550, text: '5.1.1 No such user here' } : null);
    try {
      await submit(['nobody@remote.test', 'somebody@remote.test'], subject);
      const t = await arrived(subject);
      expect(t.to).toEqual(['somebody@remote.test']);
      const dsn = await dsnAbout('info@firma.de', subject);
      expect(dsn).toMatch(/^From: Mail Delivery System <MAILER-DAEMON@mx\.postfach\.test>\r\n/m);
      expect(dsn).toMatch(/^Auto-Submitted: auto-replied\r\n/m);
      expect(dsn).toMatch(/^Content-Type: multipart\/report; report-type=delivery-status; boundary="[^"]+"\r\n/m);
      const statusStart = dsn.indexOf('Content-Type: message/delivery-status');
      const status = dsn.slice(statusStart, dsn.indexOf('\r\n--=_postfach_', statusStart));
      expect(status).toMatch(/\r\nReporting-MTA: dns; mx\.postfach\.test\r\n/);
      expect(status).toMatch(
        /\r\nFinal-Recipient: rfc822; nobody@remote\.test\r\nAction: failed\r\nStatus: 5\.1\.1\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 550 5\.1\.1 No such user here\r\nLast-Attempt-Date: /
      );
      expect(status).not.toContain('somebody@remote.test');
      // the original header comes back, so the sender sees which message it was
      expect(dsn).toMatch(/Content-Type: text\/rfc822-headers[^]*\r\nSubject: bounce-/);
      await eventually(queueEmpty, 5000);
    } finally {
      remote.onRcpt = () => null;
    }
  });

  it('gives up after queue.maxAge with a DSN naming the last temporary reply (status 4.4.7)', async () => {
    const subject = `expire-${crypto.randomUUID()}`;
    remote.onRcpt = (rcpt) => (rcpt === 'slow@remote.test' ? { code: 452, text: '4.2.2 Mailbox full' } : null);
    try {
      await submit(['slow@remote.test'], subject);
      await eventually(async () => (await queuedRecipients(server, { recipient: 'slow@remote.test' })).some((r) => r.attempts >= 1), 10_000, 50);
      // the entry has been waiting for days
      await server.app.services.db.updateTable('queue').set({ expires_at: Date.now() - 1, next_attempt: Date.now() }).where('domain', '=', 'remote.test').execute();
      server.app.services.queue.kick();
      const dsn = await dsnAbout('info@firma.de', subject);
      expect(dsn).toMatch(/\r\nFinal-Recipient: rfc822; slow@remote\.test\r\nAction: failed\r\nStatus: 4\.4\.7\r\nRemote-MTA: dns; mx\.remote\.test\r\nDiagnostic-Code: smtp; 452 4\.2\.2 Mailbox full\r\n/);
      await eventually(queueEmpty, 5000);
    } finally {
      remote.onRcpt = () => null;
    }
  });

  it('fails for good on a domain that does not exist, has a null MX, or neither MX nor address; uses the address when there is no MX', async () => {
    dns.set('nullmx.test', [{ type: 'MX', exchange: '.', priority: 0 }]);
    dns.set('nomail.test', [{ type: 'TXT', data: 'just text' }]);
    dns.set('implicit.test', [{ type: 'A', address: '127.0.0.1' }]);
    const subject = `routes-${crypto.randomUUID()}`;
    await submit(['a@gone.test', 'b@nullmx.test', 'c@nomail.test', 'd@implicit.test'], subject);
    const t = await arrived(subject);
    expect(t.to).toEqual(['d@implicit.test']);
    await eventually(async () => (await inbox('info@firma.de')).length > 0 && (await queueEmpty()), 10_000, 100);
    const dsns: string[] = [];
    for (const m of await inbox('info@firma.de')) {
      const raw = (await server.app.services.blobs.read(m.blob_id)).toString('latin1');
      if (raw.includes(`Subject: ${subject}`) && raw.includes('delivery-status')) dsns.push(raw);
    }
    const all = dsns.join('\n');
    expect(all).toMatch(/Final-Recipient: rfc822; a@gone\.test\r\nAction: failed\r\nStatus: 5\.1\.2\r\nDiagnostic-Code: smtp; 550 5\.1\.2 Domain gone\.test does not exist/);
    expect(all).toMatch(/Final-Recipient: rfc822; b@nullmx\.test\r\nAction: failed\r\nStatus: 5\.1\.10\r\nDiagnostic-Code: smtp; 556 5\.1\.10 Domain nullmx\.test does not accept mail \(null MX, RFC 7505\)/);
    expect(all).toMatch(/Final-Recipient: rfc822; c@nomail\.test\r\nAction: failed\r\nStatus: 5\.1\.2\r\n/);
  });

  it('forwards from the MX with an SRS sender and an ARC seal that verifies; a bounce to the SRS address returns to the sender', async () => {
    const subject = `forward-${crypto.randomUUID()}`;
    const mx = nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp, secure: false, ignoreTLS: true, name: 'peer.sender.test' });
    await mx.sendMail({ envelope: { from: 'peer@sender.test', to: ['anna@firma.de'] }, raw: message('anna@firma.de', subject).replace('From: Info <info@firma.de>', 'From: Peer <peer@sender.test>') });
    const t = await arrived(subject);
    expect(t.to).toEqual(['anna@remote.test']);
    expect(t.from).toMatch(/^SRS0=[A-Z2-7]{6}=[A-Z2-7]{2}=sender\.test=peer@firma\.de$/);
    expect((await inbox('anna@firma.de')).length).toBeGreaterThan(0); // keep copy
    // the destination checks SPF against firma.de (this server's address passes) and the ARC chain we sealed
    const result = await authenticate(t.raw, { ip: '127.0.0.1', helo: TEST_HOSTNAME, sender: t.from, mta: 'mx.remote.test', resolver: resolver().resolve, disableBimi: true });
    expect(result.spf.status.result).toBe('pass');
    expect(result.arc.status.result).toBe('pass');
    expect(result.arc.signature?.signingDomain ?? result.arc.chain?.[0]?.['arc-seal']?.parsed?.d?.value).toBe('firma.de');

    // the destination bounces to the SRS address: our MX decodes it and sends the bounce on to the original sender
    const bounceSubject = `srs-bounce-${crypto.randomUUID()}`;
    await mx.sendMail({ envelope: { from: '', to: [t.from] }, raw: message(t.from, bounceSubject).replace('From: Info <info@firma.de>', 'From: MAILER-DAEMON@mx.remote.test') });
    const bounce = await arrived(bounceSubject);
    expect(bounce.to).toEqual(['peer@sender.test']);
    expect(bounce.from).toBe('');

    // a forged or altered SRS address is nobody
    const forged = t.from.replace(/^SRS0=[A-Z2-7]{6}/, 'SRS0=AAAAAA');
    await expect(mx.sendMail({ envelope: { from: '', to: [forged] }, raw: message(forged, 'forged') })).rejects.toMatchObject({
      response: '550 5.1.1 Recipient address rejected: no such mailbox here'
    });
  });

  it('sends no DSN about a failed DSN or about mail from the null sender', async () => {
    const subject = `no-dsn-${crypto.randomUUID()}`;
    remote.onRcpt = (rcpt) => (rcpt === 'anna@remote.test' ? { code: 550, text: '5.1.1 Gone' } : null);
    try {
      const annaBefore = (await inbox('anna@firma.de')).length;
      const mx = nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp, secure: false, ignoreTLS: true, name: 'peer.sender.test' });
      await mx.sendMail({ envelope: { from: '', to: ['anna@firma.de'] }, raw: message('anna@firma.de', subject).replace('From: Info <info@firma.de>', 'From: MAILER-DAEMON@sender.test') });
      await eventually(async () => (await inbox('anna@firma.de')).length === annaBefore + 1, 5000);
      const [row] = await queuedRecipients(server, { recipient: 'anna@remote.test' });
      expect(row).toMatchObject({ sender: '', return_path: '', origin: 'forward' });
      await eventually(queueEmpty, 10_000, 50);
      await new Promise((r) => setTimeout(r, 300));
      expect((await inbox('anna@firma.de')).length).toBe(annaBefore + 1); // the copy, no DSN
      expect(remote.received.some((t) => t.raw.includes(subject) && t.to.includes('peer@sender.test'))).toBe(false);
    } finally {
      remote.onRcpt = () => null;
    }
  });
});
