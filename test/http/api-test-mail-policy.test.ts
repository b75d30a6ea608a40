// The endpoints the admin UI added to the API: the public password policy (the configured minimum length and every
// rule), and test messages through the MX — arrival with time and folder, DKIM-signed with the domain's key,
// forwards without a copy, refusals with the SMTP reply, roles and the audit log.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedRecords } from '../../server/dns/records.js';
import { buildHttp } from '../../server/http/app.js';
import { LoginLimiter } from '../../server/auth/rate-limit.js';
import { startServer, provision, TEST_HOSTNAME, type TestServer } from '../helpers/server.js';
import { ADMIN, AdminClient, adminClients, apiBase } from '../helpers/admin-api.js';
import { storedMessages } from '../helpers/sample-mail.js';

let server: TestServer;
let owner: AdminClient;
let admin: AdminClient;

describe('password policy and test mail endpoints', () => {
  beforeAll(async () => {
    server = await startServer({ overrides: { 'http.port': 0, 'accounts.passwordMinLength': 12 } });
    await provision(server, 'firma.de', ['info', 'buchhaltung']);
    ({ owner, admin } = await adminClients(server));
    // the domain's DKIM key is published, so the test message's signature verifies
    const domain = await server.app.services.db.selectFrom('domains').selectAll().where('name', '=', 'firma.de').executeTakeFirstOrThrow();
    const dkim = expectedRecords(domain, TEST_HOSTNAME).find((r) => r.kind === 'DKIM')!;
    server.dns.set(dkim.name, [{ type: 'TXT', data: dkim.value }]);
  });
  afterAll(async () => {
    await server?.close();
  });

  it('publishes the password policy without a login, with the configured minimum length', async () => {
    const response = await new AdminClient(apiBase(server)).get('/api/v1/password-policy');
    expect(response.status).toBe(200);
    expect(response.body).toEqual({
      minLength: 12,
      maxLength: 256,
      nameMinLength: 3,
      rules: [
        { rule: 'minLength', message: 'at least 12 characters' },
        { rule: 'maxLength', message: 'at most 256 characters' },
        { rule: 'characters', message: 'letters and at least one digit or symbol' },
        { rule: 'whitespace', message: 'no space at the start or end' },
        { rule: 'containsName', message: 'must not contain the mailbox name' },
        { rule: 'common', message: 'is one of the most common passwords' }
      ]
    });
    // the server refuses with the same rules and sentences
    const refused = await owner.post('/api/v1/accounts', { address: 'neu@firma.de', password: 'neu-12345' });
    expect(refused.body.error.violations).toEqual([{ rule: 'minLength', message: 'at least 12 characters' }, { rule: 'containsName', message: 'must not contain the mailbox name' }]);
  });

  it('sends a test message through the MX that an admin user can follow into the INBOX', async () => {
    const sent = await admin.post('/api/v1/accounts/info@firma.de/test-mail');
    expect(sent.status).toBe(201);
    expect(sent.body).toMatchObject({ id: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), reply: expect.stringMatching(/^250 2\.0\.0 /), arrived: { folder: 'INBOX' } });
    expect(sent.body.messageId).toBe(`<postfach-test.${sent.body.id}@${TEST_HOSTNAME}>`);
    expect(sent.body.arrived.at).toBeGreaterThanOrEqual(sent.body.sentAt);
    const asked = await owner.get(`/api/v1/accounts/info@firma.de/test-mail/${sent.body.id}`);
    expect(asked.body).toEqual({ id: sent.body.id, messageId: sent.body.messageId, arrived: sent.body.arrived });

    const [stored] = await storedMessages(server, 'INBOX');
    const raw = stored.raw.toString('latin1');
    expect(stored.message_id).toBe(sent.body.messageId);
    // taken by the MX like mail from outside: its Received and Authentication-Results, the domain's signature verified
    expect(raw).toMatch(/^Received: from /m);
    expect(raw).toContain(`Authentication-Results: ${TEST_HOSTNAME};\r\n dkim=pass header.i=@firma.de`);
    expect(raw).toMatch(/^Auto-Submitted: auto-generated\r$/m);
    expect(raw.replace(/=\r\n/g, '')).toContain(`sent to info@firma.de by ${ADMIN} from the Postfach admin UI`);

    const audit = (await owner.get('/api/v1/audit?target=info@firma.de')).body.entries;
    expect(audit[0]).toMatchObject({ actor: ADMIN, action: 'account.test-mail', detail: { messageId: sent.body.messageId } });
  });

  it('reports no arrival for an id that never came, and refuses malformed ids and unknown accounts', async () => {
    expect((await owner.get('/api/v1/accounts/info@firma.de/test-mail/AAAAAAAAAAAAAAAAAAAAAA')).body.arrived).toBeNull();
    const malformed = await owner.get('/api/v1/accounts/info@firma.de/test-mail/..%2F..%2Fetc');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error).toMatchObject({ field: 'id', rule: 'pattern' });
    const unknown = await owner.post('/api/v1/accounts/niemand@firma.de/test-mail');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: 'not_found', field: 'address' });
  });

  it('follows a forward without a copy: the account gets nothing, the destination gets the message', async () => {
    await owner.post('/api/v1/forwards', { source: 'buchhaltung@firma.de', destinations: ['info@firma.de'], keepCopy: false });
    const sent = await owner.post('/api/v1/accounts/buchhaltung@firma.de/test-mail');
    expect(sent.status).toBe(201);
    expect(sent.body.arrived).toBeNull();
    expect((await storedMessages(server, 'INBOX')).map((m) => m.message_id)).toContain(sent.body.messageId);
    await owner.delete('/api/v1/forwards/buchhaltung@firma.de');
  });

  it('tells the SMTP refusal of a deactivated account, and that no MX runs when none does', async () => {
    await owner.post('/api/v1/accounts/buchhaltung@firma.de/deactivate');
    const refused = await admin.post('/api/v1/accounts/buchhaltung@firma.de/test-mail');
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'delivery_refused', field: 'address', reply: '550 5.2.1 Recipient address rejected: mailbox disabled' });

    const { app } = await buildHttp(server.app.services, { limiter: new LoginLimiter(), endpoints: () => [], setupToken: null });
    try {
      const response = await app.inject({ method: 'POST', url: '/api/v1/accounts/info@firma.de/test-mail', headers: { cookie: owner.cookie!, 'x-csrf-token': owner.csrf! } });
      expect(response.statusCode).toBe(409);
      expect(response.json().error).toMatchObject({ code: 'mx_not_running', field: 'smtp.port' });
    } finally {
      await app.close();
    }
  });
});
