// The admin API's role matrix, taken from its own OpenAPI document (every operation carries x-access): no principal
// gets 401, an admin user gets 403 on every owner operation and passes on admin ones; plus the error catalogue for
// malformed requests (bad JSON, wrong type, too large, unknown field, unknown route) — through fastify inject.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { startServer, provision, type TestServer } from '../helpers/server.js';
import { ADMIN, ADMIN_PASSWORD, AdminClient, adminClients, apiBase } from '../helpers/admin-api.js';

let server: TestServer;
let app: FastifyInstance;
let owner: AdminClient;
let admin: AdminClient;

interface Operation {
  method: string;
  path: string;
  access: 'public' | 'admin' | 'owner';
}

/** Fills path parameters with values that exist, so a passed role check reaches the handler. */
const concrete = (path: string) =>
  path
    .replace('{address}', 'info@firma.de')
    .replace('{source}', 'info@firma.de')
    .replace('{name}', 'firma.de')
    .replace('{login}', 'it@firma.de')
    .replace('{id}', '999999');

const inject = (op: Operation, headers: Record<string, string> = {}) =>
  app.inject({ method: op.method as 'GET', url: '/api/v1' + concrete(op.path).replace(/^\/api\/v1/, ''), headers: { ...headers, 'content-type': 'application/json' }, payload: op.method === 'GET' || op.method === 'HEAD' ? undefined : '{}' });

describe('admin API roles and errors', () => {
  let operations: Operation[];

  beforeAll(async () => {
    server = await startServer({ overrides: { 'http.port': 0 } });
    await provision(server, 'firma.de', ['info']);
    ({ owner, admin } = await adminClients(server));
    const docs = await owner.get('/api/docs');
    expect(docs.status).toBe(200);
    operations = [];
    for (const [path, item] of Object.entries(docs.body.paths as Record<string, Record<string, { 'x-access': Operation['access'] }>>)) {
      for (const [method, op] of Object.entries(item)) operations.push({ method: method.toUpperCase(), path: path.replace(/^\/api\/v1/, ''), access: op['x-access'] });
    }
    // the listener the API runs on, reached without the network for the matrix
    const { buildHttp } = await import('../../server/http/app.js');
    ({ app } = await buildHttp(server.app.services, { limiter: new (await import('../../server/auth/rate-limit.js')).LoginLimiter(), endpoints: () => [], setupToken: null }));
  });
  afterAll(async () => {
    await app?.close();
    await server?.close();
  });

  it('describes every operation with its access level in the OpenAPI document', () => {
    expect(operations.length).toBeGreaterThan(30);
    expect(operations.every((op) => ['public', 'admin', 'owner'].includes(op.access))).toBe(true);
    expect(operations).toEqual(
      expect.arrayContaining([
        { method: 'POST', path: '/session', access: 'public' },
        { method: 'POST', path: '/accounts', access: 'owner' },
        { method: 'POST', path: '/accounts/{address}/password', access: 'admin' },
        { method: 'GET', path: '/accounts', access: 'admin' },
        { method: 'DELETE', path: '/domains/{name}', access: 'owner' },
        { method: 'GET', path: '/audit', access: 'owner' }
      ])
    );
  });

  it('answers 401 to every non-public operation without a session or token', async () => {
    for (const op of operations.filter((o) => o.access !== 'public')) {
      const response = await inject(op);
      expect(response.statusCode, `${op.method} ${op.path}`).toBe(401);
      expect(response.json().error).toMatchObject({ status: 401, code: 'unauthenticated' });
    }
  });

  it('answers 403 to an admin user on every owner operation, and lets admin operations through', async () => {
    const headers = { cookie: admin.cookie!, 'x-csrf-token': admin.csrf! };
    // logging out ends the session the rest uses: last
    const ordered = [...operations].sort((a, b) => Number(a.method === 'DELETE' && a.path === '/session') - Number(b.method === 'DELETE' && b.path === '/session'));
    let passed = 0;
    for (const op of ordered) {
      const response = await inject(op, headers);
      if (op.access === 'owner') {
        expect(response.statusCode, `${op.method} ${op.path}`).toBe(403);
        expect(response.json().error).toMatchObject({ status: 403, code: 'forbidden', rule: 'role' });
      } else {
        // past the role check: whatever the handler says about the (empty) request, it is not a refusal of the role
        expect(response.statusCode, `${op.method} ${op.path}`).not.toBe(401);
        if (response.statusCode === 403) expect(response.json().error.code, `${op.method} ${op.path}`).not.toBe('forbidden');
        passed++;
      }
    }
    expect(passed).toBeGreaterThan(10);
  });

  it('lets an admin user reset a mailbox password, and the owner too', async () => {
    // the matrix above logged the admin out (DELETE /session): a new session
    admin = new AdminClient(apiBase(server));
    expect((await admin.login(ADMIN, ADMIN_PASSWORD)).status).toBe(200);
    expect((await admin.post('/api/v1/accounts/info@firma.de/password', { password: 'Neues-Passwort-2026' })).status).toBe(204);
    expect((await owner.post('/api/v1/accounts/info@firma.de/password', { password: 'Noch-Ein-Passwort-9' })).status).toBe(204);
  });

  it('answers malformed requests with a JSON error naming the field and the rule', async () => {
    const badJson = await owner.request('POST', '/api/v1/accounts', '{"address": ');
    expect(badJson.status).toBe(400);
    expect(badJson.body.error).toMatchObject({ status: 400, field: 'body' });

    const wrongType = await owner.request('POST', '/api/v1/accounts', 'address=x', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.error.status).toBe(415);

    const huge = await owner.post('/api/v1/accounts', { address: 'big@firma.de', password: 'x'.repeat(100_000) });
    expect(huge.status).toBe(413);
    expect(huge.body.error.status).toBe(413);

    const unknownField = await owner.patch('/api/v1/accounts/info@firma.de', { displayName: 'Info', colour: 'blue' });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.error).toMatchObject({ field: 'colour', rule: 'unknown' });

    const missing = await owner.post('/api/v1/accounts', { address: 'neu@firma.de' });
    expect(missing.body.error).toMatchObject({ status: 400, field: 'password', rule: 'required' });

    const wrongKind = await owner.patch('/api/v1/accounts/info@firma.de', { quota: 'viel' });
    expect(wrongKind.body.error).toMatchObject({ status: 400, field: 'quota', rule: 'type' });

    const route = await owner.get('/api/v1/nothing-here');
    expect(route.status).toBe(404);
    expect(route.body.error).toMatchObject({ status: 404, code: 'route_not_found' });

    const account = await owner.get('/api/v1/accounts/nobody@firma.de');
    expect(account.status).toBe(404);
    expect(account.body.error).toMatchObject({ status: 404, field: 'address' });
  });

  it('applies nothing of a refused request', async () => {
    const before = (await owner.get('/api/v1/accounts')).body.accounts.length;
    const weak = await owner.post('/api/v1/accounts', { address: 'Neu@Firma.de', password: 'kurz' });
    expect(weak.status).toBe(400);
    expect(weak.body.error.field).toBe('password');
    expect(weak.body.error.violations.map((v: { rule: string }) => v.rule)).toEqual(['minLength', 'characters']);
    expect((await owner.get('/api/v1/accounts')).body.accounts).toHaveLength(before);
    expect(await server.app.services.db.selectFrom('mailboxes').innerJoin('accounts', 'accounts.id', 'mailboxes.account_id').select('accounts.address').where('accounts.address', '=', 'neu@firma.de').execute()).toEqual([]);
  });
});
