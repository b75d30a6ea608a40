// Operators and the queue: `postfach admin queue list|retry|delete` against a running server's data folder, and the
// same through the admin API (list for owner and admin, retry and delete for the owner only, audited).
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { startServer, provision, PASSWORD, type TestServer } from '../helpers/server.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { startRemoteMx, routeDomainTo, type RemoteMx } from '../helpers/remote-mx.js';
import { queuedRecipients } from '../helpers/stored-state.js';
import { eventually } from '../helpers/smtp-wire.js';
import { adminClients, type AdminClient } from '../helpers/admin-api.js';
import { runCli } from '../helpers/cli.js';

let dns: TestDnsServer;
let remote: RemoteMx;
let server: TestServer;
let owner: AdminClient;
let admin: AdminClient;

const postfach = (args: string[]) => runCli(args, { env: { POSTFACH_DATA_DIR: server.dataDir, POSTFACH_LOG_LEVEL: 'silent' } });

/** Submits a message to `to` and waits until its entry has had a (refused) attempt; returns the entry id. */
async function queued(to: string): Promise<number> {
  const subject = `queued-${crypto.randomUUID()}`;
  await nodemailer
    .createTransport({ host: '127.0.0.1', port: server.ports.submission, requireTLS: true, tls: { rejectUnauthorized: false }, auth: { user: 'info@firma.de', pass: PASSWORD } })
    .sendMail({ envelope: { from: 'info@firma.de', to: [to] }, raw: `From: info@firma.de\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nHallo\r\n` });
  await eventually(async () => (await queuedRecipients(server, { recipient: to })).some((r) => r.attempts >= 1), 10_000, 50);
  return (await queuedRecipients(server, { recipient: to }))[0].id;
}

describe('queue administration', () => {
  beforeAll(async () => {
    dns = await startDnsServer({});
    routeDomainTo(dns, 'remote.test');
    remote = await startRemoteMx();
    remote.onRcpt = () => ({ code: 451, text: '4.3.0 Try again later' });
    server = await startServer({ dns, overrides: { 'submission.port': 0, 'http.port': 0, 'queue.remotePort': remote.port, 'queue.retryDelay': 3600 } });
    await provision(server, 'firma.de', ['info']);
    ({ owner, admin } = await adminClients(server));
  });
  afterAll(async () => {
    await server?.close();
    await remote?.close();
    await dns?.close();
  });

  it('lists entries with recipients, attempts and the last error to owner and admin', async () => {
    const id = await queued('list@remote.test');
    for (const client of [owner, admin]) {
      const response = await client.get('/api/v1/queue');
      expect(response.status).toBe(200);
      const entry = response.body.entries.find((e: { id: number }) => e.id === id);
      expect(entry).toMatchObject({
        sender: 'info@firma.de',
        returnPath: 'info@firma.de',
        domain: 'remote.test',
        origin: 'submission',
        attempts: 1,
        recipients: [{ address: 'list@remote.test', status: 'pending', reply: expect.stringMatching(/^451 4\.3\.0 Try again later/) }]
      });
      expect(entry.lastError).toMatch(/^451 4\.3\.0 Try again later/);
      expect(Date.parse(entry.nextAttempt) - Date.now()).toBeGreaterThan(3000_000);
    }
  });

  it('lets only the owner retry and delete; retry delivers at once, delete drops the entry and its blob, both audited', async () => {
    const id = await queued('retry@remote.test');
    expect((await admin.post(`/api/v1/queue/${id}/retry`)).status).toBe(403);
    expect((await admin.delete(`/api/v1/queue/${id}`)).status).toBe(403);

    remote.onRcpt = () => null;
    const retried = await owner.post(`/api/v1/queue/${id}/retry`);
    expect(retried).toMatchObject({ status: 200, body: { entries: 1 } });
    await eventually(() => remote.received.some((t) => t.to.includes('retry@remote.test')), 10_000, 50);
    await eventually(async () => (await queuedRecipients(server, { recipient: 'retry@remote.test' })).length === 0, 5000);
    remote.onRcpt = () => ({ code: 451, text: '4.3.0 Try again later' });

    const doomed = await queued('doomed@remote.test');
    const [row] = await queuedRecipients(server, { recipient: 'doomed@remote.test' });
    expect((await owner.delete(`/api/v1/queue/${doomed}`)).status).toBe(204);
    expect(await queuedRecipients(server, { recipient: 'doomed@remote.test' })).toEqual([]);
    expect(await server.app.services.db.selectFrom('blobs').select('id').where('id', '=', row.blob_id).execute()).toEqual([]);
    const again = await owner.delete(`/api/v1/queue/${doomed}`);
    expect(again.status).toBe(404);
    expect(again.body.error).toMatchObject({ status: 404, field: 'id' });
    const audit = (await owner.get('/api/v1/audit?limit=10')).body.entries.map((e: { action: string; target: string }) => `${e.action} ${e.target}`);
    expect(audit).toEqual(expect.arrayContaining([`queue.retry ${id}`, `queue.delete ${doomed}`]));
  });

  it('answers the same through `postfach admin queue` on the running server\'s data folder', async () => {
    const id = await queued('cli@remote.test');
    const list = await postfach(['admin', 'queue', 'list', '--json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ id, domain: 'remote.test', recipients: [expect.objectContaining({ address: 'cli@remote.test', status: 'pending' })] })]));
    const table = await postfach(['admin', 'queue', 'list']);
    expect(table.stdout).toMatch(new RegExp(`^${id}\\tinfo@firma\\.de\\tcli@remote\\.test\\t1\\t\\S+\\t451 4\\.3\\.0 Try again later`, 'm'));

    const retry = await postfach(['admin', 'queue', 'retry', String(id)]);
    expect(retry).toMatchObject({ code: 0, stdout: '1 queue entry due now\n' });
    const [entry] = await server.app.services.db.selectFrom('queue').select('next_attempt').where('id', '=', id).execute();
    expect(entry.next_attempt).toBeLessThanOrEqual(Date.now());

    const del = await postfach(['admin', 'queue', 'delete', String(id)]);
    expect(del).toMatchObject({ code: 0, stdout: `queue entry ${id} deleted (no bounce sent)\n` });
    const missing = await postfach(['admin', 'queue', 'delete', String(id)]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain(`queue entry ${id} does not exist`);
    const usage = await postfach(['admin', 'queue', 'retry', 'abc']);
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toContain('queue commands take the numeric id from queue list');
  });
});
