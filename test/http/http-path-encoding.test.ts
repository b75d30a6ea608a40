// Threat: reaching admin API routes without a login by spelling the path so that the router still matches it
// (percent-encoded letters, doubled or dotted segments, case, encoded slashes, HEAD). Every spelling that reaches a
// route must get the route's own access check; sent over raw HTTP so no client library normalises the path first.
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, provision, type TestServer } from '../helpers/server.js';
import { adminClients } from '../helpers/admin-api.js';

let server: TestServer;

function raw(method: string, path: string, body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port: server.ports.http, method, path, headers: body ? { 'content-type': 'application/json' } : {} }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

beforeAll(async () => {
  server = await startServer({ overrides: { 'http.port': 0 } });
  await provision(server, 'firma.de', ['info']);
  await adminClients(server);
});
afterAll(() => server?.close());

describe('admin API paths spelled differently', () => {
  const reads = ['/%61pi/v1/admins', '/api/v1/%61dmins', '/%2561pi/v1/admins', '/API/v1/admins', '//api/v1/admins', '/./api/v1/admins', '/api/v1/x/../admins', '/api%2Fv1%2Fadmins', '/api/v1/admins/', '/api/v1/admins?x=1', '/api/v1/accounts/info%40firma.de'];

  it.each(reads)('GET %s never answers without a login', async (path) => {
    const { status, body } = await raw('GET', path);
    expect([401, 404]).toContain(status);
    expect(body).not.toContain('chefin@firma.de');
    expect(body).not.toContain('info@firma.de"');
  });

  it.each(reads)('HEAD %s never answers 200 without a login', async (path) => {
    expect([401, 404]).toContain((await raw('HEAD', path)).status);
  });

  it('creates no owner token and no domain through an encoded path', async () => {
    expect((await raw('POST', '/%61pi/v1/tokens', JSON.stringify({ name: 'x', role: 'owner' }))).status).toBe(401);
    expect((await raw('POST', '/%61pi/v1/domains', JSON.stringify({ name: 'evil.example' }))).status).toBe(401);
    expect(await server.app.services.db.selectFrom('api_tokens').select('id').execute()).toEqual([]);
    expect(await server.app.services.db.selectFrom('domains').select('name').where('name', '=', 'evil.example').execute()).toEqual([]);
  });

  it('still serves the public routes however they are spelled', async () => {
    expect((await raw('GET', '/healthz')).status).toBe(200);
    expect((await raw('GET', '/%61pi/docs')).status).toBe(200);
    expect((await raw('GET', '/api/v1/password-policy')).status).toBe(200);
  });
});
