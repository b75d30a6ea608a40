// Admin logins over real HTTP: cookie flags (plain HTTP, HTTPS, behind a TLS proxy), CSRF header and Origin checks,
// idle and absolute session expiry on an injected clock, logout, the own password change ending other sessions,
// TOTP enrolment and login (codes checked against oathtool where installed), brute-force lockout with Retry-After
// and no password in the log, and the one-time setup link.
import { execFileSync } from 'node:child_process';
import { Writable } from 'node:stream';
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { startServer, PASSWORD, type TestServer } from '../helpers/server.js';
import { ADMIN, ADMIN_PASSWORD, AdminClient, OWNER, adminClients, apiBase } from '../helpers/admin-api.js';
import { installed } from '../helpers/sample-mail.js';
import { totpCode } from '../../server/auth/totp.js';

const NO_OATHTOOL = installed('oathtool') ? null : 'oathtool is not installed (apt-get install oathtool): codes are checked only against our own TOTP';

let clock = Date.parse('2026-11-23T08:00:00Z');
const IDLE_MS = 10 * 60_000;
const MAX_MS = 60 * 60_000;

describe('admin sessions', () => {
  let server: TestServer;
  let owner: AdminClient;
  const logLines: string[] = [];

  beforeAll(async () => {
    // capture the server's log to check that no password ever appears in it
    const sink = new Writable({
      write(chunk, _enc, done) {
        logLines.push(String(chunk));
        done();
      }
    });
    server = await startServer({ overrides: { 'http.port': 0 }, build: { http: { now: () => clock, lifetime: { idleMs: IDLE_MS, maxMs: MAX_MS } } } });
    (server.app.services as { log: unknown }).log = pino({ level: 'info' }, sink);
    ({ owner } = await adminClients(server));
  });
  afterAll(async () => server?.close());

  it('sets the session cookie HttpOnly, SameSite=Strict, Path=/ and not Secure over plain HTTP', async () => {
    const client = new AdminClient(apiBase(server));
    const response = await client.login(OWNER, PASSWORD);
    expect(response.status).toBe(200);
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^postfach_session=[A-Za-z0-9_-]{30,}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600$/);
    expect(response.body).toMatchObject({ admin: { login: OWNER, role: 'owner' }, csrfToken: expect.any(String) });
    const me = await client.get('/api/v1/session');
    expect(me.body).toMatchObject({ admin: { login: OWNER }, csrfToken: response.body.csrfToken });
  });

  it('refuses a changing request of a cookie session without the CSRF header, with a wrong one, or from another origin', async () => {
    const csrf = owner.csrf;
    try {
      owner.csrf = null;
      const none = await owner.post('/api/v1/domains', { name: 'csrf.example' });
      expect(none.status).toBe(403);
      expect(none.body.error).toMatchObject({ code: 'csrf', field: 'X-CSRF-Token' });
      owner.csrf = 'x'.repeat(csrf!.length);
      expect((await owner.post('/api/v1/domains', { name: 'csrf.example' })).status).toBe(403);
    } finally {
      owner.csrf = csrf;
    }
    const foreign = await owner.request('POST', '/api/v1/domains', { name: 'csrf.example' }, { origin: 'https://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toMatchObject({ code: 'csrf', field: 'Origin' });
    expect((await owner.get('/api/v1/domains')).body.domains.map((d: { name: string }) => d.name)).not.toContain('csrf.example');
    // with the header from the same origin it works
    expect((await owner.request('POST', '/api/v1/domains', { name: 'csrf.example' }, { origin: apiBase(server) })).status).toBe(201);
  });

  it('ends a session after the idle timeout and after the absolute maximum, whatever the activity', async () => {
    const idle = new AdminClient(apiBase(server));
    await idle.login(OWNER, PASSWORD);
    clock += IDLE_MS - 1000;
    expect((await idle.get('/api/v1/domains')).status).toBe(200);
    clock += IDLE_MS - 1000; // active within each idle period
    expect((await idle.get('/api/v1/domains')).status).toBe(200);
    clock += IDLE_MS + 1000;
    expect((await idle.get('/api/v1/domains')).status).toBe(401);

    const busy = new AdminClient(apiBase(server));
    await busy.login(OWNER, PASSWORD);
    for (let t = 0; t < MAX_MS - 5 * 60_000; t += 5 * 60_000) {
      clock += 5 * 60_000;
      expect((await busy.get('/api/v1/domains')).status).toBe(200);
    }
    clock += 10 * 60_000;
    expect((await busy.get('/api/v1/domains')).status).toBe(401);
    // the shared owner session expired with the clock too: a new one for the tests below
    owner = new AdminClient(apiBase(server));
    await owner.login(OWNER, PASSWORD);
  });

  it('logs out: the old cookie is worthless afterwards', async () => {
    const client = new AdminClient(apiBase(server));
    await client.login(OWNER, PASSWORD);
    const cookie = client.cookie!;
    const out = await client.delete('/api/v1/session');
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^postfach_session=; Path=\/; HttpOnly; SameSite=Strict; Max-Age=0/);
    const replay = new AdminClient(apiBase(server));
    replay.cookie = cookie;
    expect((await replay.get('/api/v1/domains')).status).toBe(401);
  });

  it("changes the own password only with the current one, ending the user's other sessions but not this one", async () => {
    const here = new AdminClient(apiBase(server));
    const elsewhere = new AdminClient(apiBase(server));
    await here.login(ADMIN, ADMIN_PASSWORD);
    await elsewhere.login(ADMIN, ADMIN_PASSWORD);
    const wrong = await here.put('/api/v1/session/password', { currentPassword: 'falsch-falsch-1', newPassword: 'Ganz-Neues-Pw-55' });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error).toMatchObject({ field: 'currentPassword', rule: 'match' });
    const weak = await here.put('/api/v1/session/password', { currentPassword: ADMIN_PASSWORD, newPassword: 'kurz' });
    expect(weak.body.error).toMatchObject({ status: 400, field: 'password' });
    expect((await here.put('/api/v1/session/password', { currentPassword: ADMIN_PASSWORD, newPassword: 'Ganz-Neues-Pw-55' })).status).toBe(204);
    expect((await here.get('/api/v1/accounts')).status).toBe(200);
    expect((await elsewhere.get('/api/v1/accounts')).status).toBe(401);
    expect((await new AdminClient(apiBase(server)).login(ADMIN, ADMIN_PASSWORD)).status).toBe(401);
    expect((await new AdminClient(apiBase(server)).login(ADMIN, 'Ganz-Neues-Pw-55')).status).toBe(200);
  });

  it('sets up TOTP: confirmed with a code, then logins need a fresh code and a used code is refused', async () => {
    const client = new AdminClient(apiBase(server));
    await client.login(OWNER, PASSWORD);
    const begin = await client.post('/api/v1/session/totp');
    expect(begin.status).toBe(200);
    const secret: string = begin.body.secret;
    expect(begin.body.uri).toBe(`otpauth://totp/${encodeURIComponent(`Postfach mx.postfach.test:${OWNER}`)}?secret=${secret}&issuer=${encodeURIComponent('Postfach mx.postfach.test')}&algorithm=SHA1&digits=6&period=30`);
    if (!NO_OATHTOOL) {
      // an independent implementation agrees on the code for this moment (RFC 6238)
      const date = new Date(clock).toISOString().replace('T', ' ').slice(0, 19);
      expect(execFileSync('oathtool', ['--totp', '-b', secret, '--now', `${date} UTC`], { encoding: 'utf8' }).trim()).toBe(totpCode(secret, clock));
    }
    expect((await client.post('/api/v1/session/totp/confirm', { code: '000000' === totpCode(secret, clock) ? '111111' : '000000' })).status).toBe(400);
    expect((await client.post('/api/v1/session/totp/confirm', { code: totpCode(secret, clock) })).status).toBe(204);

    clock += 60_000;
    const without = await new AdminClient(apiBase(server)).login(OWNER, PASSWORD);
    expect(without.status).toBe(401);
    expect(without.body.error).toMatchObject({ code: 'totp_required', field: 'totp' });
    const code = totpCode(secret, clock);
    expect((await new AdminClient(apiBase(server)).login(OWNER, PASSWORD, code)).status).toBe(200);
    const replayed = await new AdminClient(apiBase(server)).login(OWNER, PASSWORD, code);
    expect(replayed.status).toBe(401);
    expect(replayed.body.error).toMatchObject({ code: 'invalid_totp' });

    // turned off again with a current code, so later logins need none
    clock += 60_000;
    expect((await client.delete('/api/v1/session/totp', { code: totpCode(secret, clock) })).status).toBe(204);
    expect((await new AdminClient(apiBase(server)).login(OWNER, PASSWORD)).status).toBe(200);
  });

  it('locks out repeated wrong passwords with 429 and Retry-After, and never logs a password', async () => {
    const guesses = ['Versuch-Eins-111', 'Versuch-Zwei-222', 'Versuch-Drei-333', 'Versuch-Vier-444', 'Versuch-Fuenf-555'];
    for (const guess of guesses) expect((await new AdminClient(apiBase(server)).login('it@firma.de', guess)).status).toBe(401);
    const locked = await new AdminClient(apiBase(server)).login('it@firma.de', 'Ganz-Neues-Pw-55');
    expect(locked.status).toBe(429);
    expect(locked.body.error).toMatchObject({ code: 'locked', rule: 'rateLimit', retryAfter: expect.any(Number) });
    expect(Number(locked.headers.get('retry-after'))).toBe(locked.body.error.retryAfter);
    const log = logLines.join('');
    expect(log).toContain('login');
    for (const secret of [...guesses, 'Ganz-Neues-Pw-55', PASSWORD]) expect(log).not.toContain(secret);
  });
});

describe('session cookies over TLS', () => {
  /** POST over HTTPS to a server with a self-signed certificate; returns status and Set-Cookie. */
  const postTls = (port: number, path: string, body: unknown) =>
    new Promise<{ status: number; cookie: string }>((resolve, reject) => {
      const request = https.request({ host: '127.0.0.1', port, path, method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, cookie: String(response.headers['set-cookie'] ?? '') }));
      });
      request.on('error', reject);
      request.end(JSON.stringify(body));
    });

  it('marks the cookie Secure when the API is served over HTTPS', async () => {
    const server = await startServer({ overrides: { 'http.port': 0, 'http.tls': true } });
    try {
      await adminClients(server).catch(() => undefined); // creates the users; its plain-HTTP login cannot work here
      const response = await postTls(server.ports.http!, '/api/v1/session', { login: OWNER, password: PASSWORD });
      expect(response.status).toBe(200);
      expect(response.cookie).toMatch(/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
    } finally {
      await server.close();
    }
  });

  it('behind a TLS-terminating proxy (http.trustProxy) marks it Secure when X-Forwarded-Proto says https, not otherwise', async () => {
    const server = await startServer({ overrides: { 'http.port': 0, 'http.trustProxy': true } });
    try {
      await adminClients(server);
      const login = (proto?: string) =>
        fetch(`${apiBase(server)}/api/v1/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(proto ? { 'x-forwarded-proto': proto } : {}) },
          body: JSON.stringify({ login: OWNER, password: PASSWORD })
        });
      expect((await login('https')).headers.get('set-cookie')).toMatch(/; Secure$/);
      expect((await login()).headers.get('set-cookie')).not.toMatch(/Secure/);
    } finally {
      await server.close();
    }
  });
  it('behind the proxy (http.trustProxy) takes the address the proxy saw, not one the client wrote, and keeps /metrics for the token', async () => {
    const server = await startServer({ overrides: { 'http.port': 0, 'http.trustProxy': true } });
    try {
      const { owner } = await adminClients(server);
      // nginx's $proxy_add_x_forwarded_for appends the real client to whatever the client sent
      const added = await owner.request('POST', '/api/v1/domains', { name: 'proxy.example' }, { 'x-forwarded-for': '9.9.9.9, 203.0.113.7' });
      expect(added.status).toBe(201);
      const entries = (await owner.get('/api/v1/audit?limit=10')).body.entries as Array<{ action: string; target: string; ip: string }>;
      expect(entries.find((e) => e.action === 'domain.add' && e.target === 'proxy.example')!.ip).toBe('203.0.113.7');
      // every request looks local behind a proxy on this box: no token configured, no metrics
      const metrics = await fetch(`${apiBase(server)}/metrics`);
      expect(metrics.status).toBe(403);
      expect(((await metrics.json()) as { error: unknown }).error).toMatchObject({ code: 'forbidden', rule: 'token' });
    } finally {
      await server.close();
    }
  });
});

describe('first start without an owner', () => {
  it('creates the owner through the one-time setup token, once', async () => {
    const server = await startServer({ overrides: { 'http.port': 0 } });
    try {
      const token = server.app.setupToken!;
      expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
      const client = new AdminClient(apiBase(server));
      const page = await client.get('/setup');
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const wrong = await client.post('/api/v1/setup', { token: 'x'.repeat(32), login: OWNER, password: PASSWORD });
      expect(wrong.status).toBe(403);
      expect(wrong.body.error).toMatchObject({ code: 'setup_token', field: 'token' });
      const weak = await client.post('/api/v1/setup', { token, login: OWNER, password: 'kurz' });
      expect(weak.body.error).toMatchObject({ status: 400, field: 'password' });
      const created = await client.post('/api/v1/setup', { token, login: 'Chefin@Firma.de', password: PASSWORD });
      expect(created.status).toBe(201);
      expect(created.body.admin).toMatchObject({ login: OWNER, role: 'owner' });
      client.csrf = created.body.csrfToken;
      expect((await client.get('/api/v1/admins')).status).toBe(200);
      const again = await new AdminClient(apiBase(server)).post('/api/v1/setup', { token, login: 'zweite@firma.de', password: PASSWORD });
      expect(again.status).toBe(409);
      expect(again.body.error).toMatchObject({ code: 'setup_done' });
    } finally {
      await server.close();
    }
  });
});
