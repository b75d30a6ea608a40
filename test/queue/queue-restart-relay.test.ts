// The queue across a restart (an entry between attempts, and one whose attempt was running when the process died, is
// delivered exactly once by the next start), opportunistic STARTTLS to a remote MX that offers it (self-signed, as
// many do), and a smarthost with AUTH (for networks where port 25 is blocked).
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startServer, provision, PASSWORD, tempDir, type TestServer } from '../helpers/server.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startRemoteMx, routeDomainTo, type RemoteMx } from '../helpers/remote-mx.js';
import { queuedRecipients } from '../helpers/stored-state.js';
import { eventually } from '../helpers/smtp-wire.js';
import { loadTlsMaterial } from '../../server/tls/certificates.js';
import { createLogger } from '../../server/log/logger.js';

let dns: TestDnsServer;

async function submit(server: TestServer, to: string, subject: string) {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: server.ports.submission,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'info@firma.de', pass: PASSWORD }
  });
  return transport.sendMail({ envelope: { from: 'info@firma.de', to: [to] }, raw: `From: info@firma.de\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nHallo\r\n` });
}

const countWith = (remote: RemoteMx, subject: string) => remote.received.filter((t) => t.raw.includes(`Subject: ${subject}`)).length;

beforeAll(async () => {
  dns = await startDnsServer({});
  routeDomainTo(dns, 'remote.test');
});
afterAll(async () => dns?.close());

describe('queue across a restart', () => {
  let remote: RemoteMx;
  const dataDir = tempDir();
  afterAll(async () => {
    await remote?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('delivers entries waiting for a retry, and entries whose attempt a crash interrupted, exactly once after the restart', async () => {
    remote = await startRemoteMx();
    remote.onRcpt = () => ({ code: 451, text: '4.3.2 Not now' });
    const overrides = { 'submission.port': 0, 'queue.remotePort': remote.port, 'queue.retryDelay': 1, 'queue.retryMaxDelay': 1 };
    const first = await startServer({ dns, dataDir, overrides });
    await provision(first, 'firma.de', ['info']);
    const waiting = `waiting-${crypto.randomUUID()}`;
    const crashed = `crashed-${crypto.randomUUID()}`;
    await submit(first, 'w@remote.test', waiting);
    await submit(first, 'c@remote.test', crashed);
    await eventually(async () => (await queuedRecipients(first)).filter((r) => r.attempts >= 1).length === 2, 10_000, 50);
    // the second entry looks like an attempt was running when the process died: leased, never recorded
    const [crashedRow] = await queuedRecipients(first, { recipient: 'c@remote.test' });
    await first.app.services.queue.stop();
    await first.app.services.db.updateTable('queue').set({ leased_until: Date.now() + 3600_000, next_attempt: Date.now() }).where('id', '=', crashedRow.id).execute();
    await first.close();

    remote.onRcpt = () => null;
    const second = await startServer({ dns, dataDir, overrides });
    try {
      await eventually(() => countWith(remote, waiting) === 1 && countWith(remote, crashed) === 1, 15_000, 50);
      await eventually(async () => (await queuedRecipients(second)).length === 0, 5000);
      await new Promise((r) => setTimeout(r, 1500)); // a duplicate would show up within the retry delay
      expect(countWith(remote, waiting)).toBe(1);
      expect(countWith(remote, crashed)).toBe(1);
      // every blob reference of the finished entries is gone (only none were stored locally)
      expect(await second.app.services.db.selectFrom('blobs').selectAll().execute()).toEqual([]);
    } finally {
      await second.close();
    }
  });
});

describe('smarthost', () => {
  let relay: RemoteMx;
  let server: TestServer;
  beforeAll(async () => {
    relay = await startRemoteMx({ auth: { user: 'relay-user', pass: 'relay-secret' }, allowInsecureAuth: true });
  });
  afterAll(async () => {
    await server?.close();
    await relay?.close();
  });

  it('hands all outbound mail to the relay with AUTH, whatever the recipient domain (no MX lookup)', async () => {
    server = await startServer({
      dns,
      overrides: { 'submission.port': 0, 'queue.relay': `127.0.0.1:${relay.port}`, 'queue.relaySecurity': 'none', 'queue.relayUser': 'relay-user', 'queue.relayPassword': 'relay-secret' }
    });
    await provision(server, 'firma.de', ['info']);
    const subject = `relay-${crypto.randomUUID()}`;
    await submit(server, 'kunde@nowhere-in-dns.example', subject);
    await eventually(() => countWith(relay, subject) === 1, 10_000, 50);
    const t = relay.received.find((r) => r.raw.includes(subject))!;
    expect(t).toMatchObject({ user: 'relay-user', from: 'info@firma.de', to: ['kunde@nowhere-in-dns.example'] });
    expect(dns.queries.some((q) => q.name === 'nowhere-in-dns.example')).toBe(false);
  });

  it('keeps mail queued (not bounced) while the relay refuses the login', async () => {
    await server.close();
    server = await startServer({
      dns,
      overrides: { 'submission.port': 0, 'queue.relay': `127.0.0.1:${relay.port}`, 'queue.relaySecurity': 'none', 'queue.relayUser': 'relay-user', 'queue.relayPassword': 'wrong', 'queue.retryDelay': 60 }
    });
    await provision(server, 'firma.de', ['info']);
    const subject = `relay-auth-${crypto.randomUUID()}`;
    await submit(server, 'kunde@example.org', subject);
    await eventually(async () => (await queuedRecipients(server)).some((r) => r.attempts >= 1), 10_000, 50);
    const [row] = await queuedRecipients(server);
    expect(row.status).toBe('pending');
    expect(row.last_error).toMatch(/^451 4\.4\.1 Smarthost 127\.0\.0\.1:\d+ did not take the message \(.*535/);
    expect(countWith(relay, subject)).toBe(0);
  });
});

describe('opportunistic STARTTLS', () => {
  it('upgrades to TLS when the remote MX offers STARTTLS, even with a certificate nobody signed', async () => {
    const certDir = tempDir();
    const tls = await loadTlsMaterial({ cert: '', key: '', dataDir: certDir, hostname: 'mx.remote.test' }, createLogger('silent'));
    const remote = await startRemoteMx({ tls: { key: tls.key, cert: tls.cert } });
    const server = await startServer({ dns, overrides: { 'submission.port': 0, 'queue.remotePort': remote.port } });
    try {
      await provision(server, 'firma.de', ['info']);
      const subject = `tls-${crypto.randomUUID()}`;
      await submit(server, 'secure@remote.test', subject);
      await eventually(() => countWith(remote, subject) === 1, 10_000, 50);
      expect(remote.received.find((t) => t.raw.includes(subject))).toMatchObject({ secure: true, to: ['secure@remote.test'] });
    } finally {
      await server.close();
      await remote.close();
      fs.rmSync(certDir, { recursive: true, force: true });
    }
  });
});
