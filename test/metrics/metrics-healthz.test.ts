// GET /metrics after real traffic (MX with nodemailer, submission, IMAP with imapflow, admin login, deliveries to a
// remote MX on loopback DNS): the counters and gauges moved by exactly what happened; who may scrape (loopback
// directly, or the configured bearer token); GET /healthz 200 while everything answers and 503 when the database
// does not.
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { scrape } from '../helpers/metrics.js';
import { routeDomainTo, startRemoteMx, type RemoteMx } from '../helpers/remote-mx.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/smtp-wire.js';

let dns: TestDnsServer;
let remote: RemoteMx;
let server: TestServer;

const mx = () => nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.smtp, secure: false, ignoreTLS: true });
const submission = (pass = PASSWORD) =>
  nodemailer.createTransport({ host: '127.0.0.1', port: server.ports.submission, secure: false, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'info@firma.de', pass } });
const raw = (from: string, to: string) => `From: ${from}\r\nTo: ${to}\r\nSubject: metrics ${crypto.randomUUID()}\r\n\r\nHello\r\n`;

beforeAll(async () => {
  dns = await startDnsServer({});
  remote = await startRemoteMx();
  remote.onRcpt = (rcpt) => (rcpt.startsWith('later@') ? { code: 451, text: '4.3.0 try again later' } : rcpt.startsWith('gone@') ? { code: 550, text: '5.1.1 no such user' } : null);
  routeDomainTo(dns, 'remote.test');
  server = await startServer({ dns, overrides: { 'submission.port': 0, 'imap.port': 0, 'http.port': 0, 'queue.remotePort': remote.port } });
  await provision(server, 'firma.de', ['info']);
});

afterAll(async () => {
  await server?.close();
  await remote?.close();
  await dns?.close();
});

describe('GET /metrics after real traffic', () => {
  it('starts with nothing counted but the gauges and the series every scrape has', async () => {
    const s = await scrape(server.ports.http!);
    expect(s.status).toBe(200);
    expect(s.text).toContain('# TYPE postfach_messages_received_total counter');
    expect(s.value('postfach_queue_entries')).toBe(0);
    expect(s.value('postfach_connections_open', { service: 'smtp' })).toBe(0);
    expect(s.value('postfach_tls_certificate_expiry_timestamp_seconds')).toBeGreaterThan(Date.now() / 1000);
    expect(s.value('postfach_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('counts MX mail received and refused by reason, submissions, deliveries by result, the queue, login failures and connections', async () => {
    // MX: two accepted, one unknown recipient, one relay attempt
    await mx().sendMail({ envelope: { from: 'a@sender.test', to: ['info@firma.de'] }, raw: raw('a@sender.test', 'info@firma.de') });
    await mx().sendMail({ envelope: { from: 'a@sender.test', to: ['info@firma.de'] }, raw: raw('a@sender.test', 'info@firma.de') });
    await expect(mx().sendMail({ envelope: { from: 'a@sender.test', to: ['nobody@firma.de'] }, raw: raw('a@sender.test', 'nobody@firma.de') })).rejects.toMatchObject({ responseCode: 550 });
    await expect(mx().sendMail({ envelope: { from: 'a@sender.test', to: ['x@elsewhere.test'] }, raw: raw('a@sender.test', 'x@elsewhere.test') })).rejects.toMatchObject({ responseCode: 550 });
    // submission: delivered, deferred (451), bounced (550, DSN stored locally); one wrong password
    for (const to of ['bob@remote.test', 'later@remote.test', 'gone@remote.test']) await submission().sendMail({ envelope: { from: 'info@firma.de', to: [to] }, raw: raw('info@firma.de', to) });
    await expect(submission('Wrong-Password-1').sendMail({ envelope: { from: 'info@firma.de', to: ['bob@remote.test'] }, raw: raw('info@firma.de', 'bob@remote.test') })).rejects.toMatchObject({ responseCode: 535 });
    // IMAP: one failed login, one good session
    const bad = new ImapFlow({ host: '127.0.0.1', port: server.ports.imap!, secure: false, doSTARTTLS: false, auth: { user: 'info@firma.de', pass: 'Wrong-Password-2' }, logger: false });
    bad.on('error', () => undefined);
    await expect(bad.connect()).rejects.toThrow();
    const good = new ImapFlow({ host: '127.0.0.1', port: server.ports.imap!, secure: false, doSTARTTLS: false, auth: { user: 'info@firma.de', pass: PASSWORD }, logger: false });
    await good.connect();
    // admin API: one wrong password
    const login = await fetch(`http://127.0.0.1:${server.ports.http}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'nobody@firma.de', password: 'Wrong-Password-3' }) });
    expect(login.status).toBe(401);

    await remote.waitFor(1);
    expect(await eventually(async () => (await scrape(server.ports.http!)).value('postfach_deliveries_total', { result: 'bounced' }) === 1, 10_000, 50)).toBe(true);
    await server.app.services.queue.idle();

    const s = await scrape(server.ports.http!);
    expect(s.value('postfach_messages_received_total', { service: 'smtp' })).toBe(2);
    expect(s.value('postfach_smtp_refused_total', { service: 'smtp', reason: 'unknownRecipient', code: '550' })).toBe(1);
    expect(s.value('postfach_smtp_refused_total', { service: 'smtp', reason: 'relayDenied', code: '550' })).toBe(1);
    expect(s.value('postfach_messages_received_total', { service: 'submission' })).toBe(3);
    expect(s.value('postfach_deliveries_total', { result: 'delivered' })).toBe(1);
    expect(s.value('postfach_deliveries_total', { result: 'deferred' })).toBe(1);
    expect(s.value('postfach_deliveries_total', { result: 'bounced' })).toBe(1);
    // the deferred one waits for its retry
    expect(s.value('postfach_queue_entries')).toBe(1);
    expect(s.value('postfach_queue_recipients')).toBe(1);
    expect(s.value('postfach_queue_oldest_age_seconds')).toBeGreaterThanOrEqual(0);
    expect(s.value('postfach_login_failures_total', { protocol: 'submission', reason: 'invalid' })).toBe(1);
    expect(s.value('postfach_login_failures_total', { protocol: 'imap', reason: 'invalid' })).toBe(1);
    expect(s.value('postfach_login_failures_total', { protocol: 'http', reason: 'invalid' })).toBe(1);
    expect(s.value('postfach_connections_total', { service: 'smtp' })).toBe(4);
    expect(s.value('postfach_connections_total', { service: 'submission' })).toBe(4);
    expect(s.value('postfach_connections_total', { service: 'imap' })).toBe(2);
    expect(s.value('postfach_connections_open', { service: 'imap' })).toBe(1);

    await good.logout();
    expect(await eventually(async () => (await scrape(server.ports.http!)).value('postfach_connections_open', { service: 'imap' }) === 0, 3000, 25)).toBe(true);
    expect((await scrape(server.ports.http!)).value('postfach_connections_open', { service: 'smtp' })).toBe(0);
  });

  it('answers only loopback clients that come directly, not through a proxy on the same box', async () => {
    expect((await scrape(server.ports.http!)).status).toBe(200);
    const proxied = await scrape(server.ports.http!, { 'x-forwarded-for': '203.0.113.9' });
    expect(proxied.status).toBe(403);
    expect(JSON.parse(proxied.text).error).toMatchObject({ code: 'forbidden', rule: 'loopback' });
  });
});

describe('GET /healthz', () => {
  it('answers 200 with the database and every listener up, without logging in', async () => {
    const response = await fetch(`http://127.0.0.1:${server.ports.http}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', database: 'ok', listeners: { smtp: true, submission: true, imap: true, http: true } });
  });
});

describe('with http.metricsToken', () => {
  let guarded: TestServer;
  beforeAll(async () => {
    guarded = await startServer({ dns, overrides: { 'smtp.port': -1, 'http.port': 0, 'http.metricsToken': 'scrape-secret-123' } });
  });
  afterAll(async () => {
    await guarded?.close();
  });

  it('needs the bearer token, even from loopback', async () => {
    expect((await scrape(guarded.ports.http!)).status).toBe(401);
    expect((await scrape(guarded.ports.http!, { authorization: 'Bearer wrong' })).status).toBe(401);
    const ok = await scrape(guarded.ports.http!, { authorization: 'Bearer scrape-secret-123' });
    expect(ok.status).toBe(200);
    expect(ok.text).toContain('postfach_queue_entries 0');
  });

  it('answers 503 from /healthz when the database does not answer', async () => {
    guarded.app.services.database.sqlite.close();
    const response = await fetch(`http://127.0.0.1:${guarded.ports.http}/healthz`);
    expect(response.status).toBe(503);
    expect(await response.json()).toMatchObject({ status: 'failing', database: 'failing', listeners: { http: true } });
  });
});
