// Mail client autoconfiguration fetched over real HTTP the way clients ask for it and parsed as they would: Thunderbird's
// config-v1.1.xml (by address and by autoconfig.<domain> host), Outlook's autodiscover POX (POST and GET), and the Apple
// profile per account (admin users only; read back with Python's plistlib, the strict parser closest to Apple's).
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updateAccount } from '../../server/directory/accounts.js';
import { adminClients, AdminClient, apiBase } from '../helpers/admin-api.js';
import { installed } from '../helpers/sample-mail.js';
import { actor, provision, startServer, TEST_HOSTNAME, type TestServer } from '../helpers/server.js';

const run = promisify(execFile);
const NO_PYTHON = installed('python3') ? null : 'python3 is not installed: plistlib cannot read the profile';

let server: TestServer;
let owner: AdminClient;
let admin: AdminClient;

interface Fetched {
  status: number;
  type: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request with a Host header of our choosing (fetch does not let a caller set Host). */
function request(method: string, path: string, options: { host?: string; body?: string; type?: string } = {}): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: options.host ?? `127.0.0.1:${server.ports.http}` };
    if (options.body !== undefined) {
      headers['content-type'] = options.type ?? 'text/xml';
      headers['content-length'] = String(Buffer.byteLength(options.body));
    }
    const req = http.request({ host: '127.0.0.1', port: server.ports.http, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Parses XML the strict way: a document that is not well-formed fails the test. */
function parseXml(text: string): any {
  expect(XMLValidator.validate(text), text).toBe(true);
  return new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, isArray: (name) => ['incomingServer', 'outgoingServer', 'Protocol'].includes(name) }).parse(text);
}

const autodiscoverRequest = (address: string) =>
  `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>${address}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;

beforeAll(async () => {
  server = await startServer({
    overrides: { 'smtp.port': -1, 'http.port': 0, 'imap.port': 0, 'imaps.port': 0, 'pop3.port': 0, 'pop3s.port': 0, 'submission.port': 0, 'submissions.port': 0 }
  });
  await provision(server, 'firma.de', ['info']);
  await updateAccount(server.app.services.db, actor, 'info@firma.de', { displayName: 'Firma & Co. Info' });
  ({ owner, admin } = await adminClients(server));
});

afterAll(async () => {
  await server?.close();
});

describe('Thunderbird autoconfig', () => {
  it('serves config-v1.1.xml for an address of a hosted domain: every listener, implicit TLS first, the address as user name', async () => {
    const response = await request('GET', '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=Info%40Firma.DE');
    expect(response.status).toBe(200);
    expect(response.type).toBe('application/xml; charset=utf-8');
    const provider = parseXml(response.body).clientConfig.emailProvider;
    expect(parseXml(response.body).clientConfig['@version']).toBe('1.1');
    expect(provider['@id']).toBe('firma.de');
    expect(provider.domain).toBe('firma.de');
    const { ports } = server;
    const entry = (type: string, port: number | undefined, socketType: string) => ({ '@type': type, hostname: TEST_HOSTNAME, port: String(port), socketType, authentication: 'password-cleartext', username: '%EMAILADDRESS%' });
    expect(provider.incomingServer).toEqual([entry('imap', ports.imaps, 'SSL'), entry('imap', ports.imap, 'STARTTLS'), entry('pop3', ports.pop3s, 'SSL'), entry('pop3', ports.pop3, 'STARTTLS')]);
    expect(provider.outgoingServer).toEqual([entry('smtp', ports.submissions, 'SSL'), entry('smtp', ports.submission, 'STARTTLS')]);
  });

  it('answers at autoconfig.<domain>/mail/config-v1.1.xml by the Host header, and 404 for domains not hosted here', async () => {
    const byHost = await request('GET', '/mail/config-v1.1.xml', { host: 'autoconfig.firma.de' });
    expect(byHost.status).toBe(200);
    expect(parseXml(byHost.body).clientConfig.emailProvider['@id']).toBe('firma.de');
    const byAddress = await request('GET', '/mail/config-v1.1.xml?emailaddress=info%40firma.de', { host: `autoconfig.firma.de:${server.ports.http}` });
    expect(byAddress.body).toBe(byHost.body);
    expect((await request('GET', '/mail/config-v1.1.xml', { host: 'autoconfig.example.org' })).status).toBe(404);
    expect((await request('GET', '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=jemand%40example.org')).status).toBe(404);
    expect((await request('GET', '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=kein-at-zeichen')).status).toBe(404);
    // any address of the domain gets the document: whether an account exists is not told
    expect((await request('GET', '/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=gibt-es-nicht%40firma.de')).status).toBe(200);
  });
});

describe('Outlook autodiscover', () => {
  it('answers the POX request with IMAP, POP3 and SMTP at their implicit-TLS ports and the address as login name', async () => {
    for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
      const response = await request('POST', path, { body: autodiscoverRequest('info@firma.de'), host: 'autodiscover.firma.de' });
      expect(response.status).toBe(200);
      expect(response.type).toBe('text/xml; charset=utf-8');
      const doc = parseXml(response.body).Autodiscover;
      expect(doc['@xmlns']).toBe('http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006');
      expect(doc.Response['@xmlns']).toBe('http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a');
      const account = doc.Response.Account;
      expect([account.AccountType, account.Action]).toEqual(['email', 'settings']);
      const common = { Server: TEST_HOSTNAME, DomainRequired: 'off', LoginName: 'info@firma.de', SPA: 'off', SSL: 'on', Encryption: 'SSL', AuthRequired: 'on' };
      expect(account.Protocol).toEqual([
        { Type: 'IMAP', Port: String(server.ports.imaps), ...common },
        { Type: 'POP3', Port: String(server.ports.pop3s), ...common },
        { Type: 'SMTP', Port: String(server.ports.submissions), ...common, UsePOPAuth: 'on', SMTPLast: 'off' }
      ]);
    }
  });

  it('takes GET with ?email=, refuses a request without an address (ErrorCode 600), 404 for other domains, 413 for huge bodies', async () => {
    const viaGet = await request('GET', '/autodiscover/autodiscover.xml?email=info%40firma.de');
    expect(parseXml(viaGet.body).Autodiscover.Response.Account.Protocol.map((p: { Type: string }) => p.Type)).toEqual(['IMAP', 'POP3', 'SMTP']);
    const empty = await request('POST', '/autodiscover/autodiscover.xml', { body: '<Autodiscover><Request></Request></Autodiscover>' });
    expect(empty.status).toBe(400);
    expect(parseXml(empty.body).Autodiscover.Response.Error).toMatchObject({ ErrorCode: '600' });
    expect((await request('POST', '/autodiscover/autodiscover.xml', { body: autodiscoverRequest('chef@example.org') })).status).toBe(404);
    const escaped = await request('POST', '/autodiscover/autodiscover.xml', { body: autodiscoverRequest('info&#64;firma.de'), type: 'application/xml' });
    expect(parseXml(escaped.body).Autodiscover.Response.Account.Protocol[0].LoginName).toBe('info@firma.de');
    const huge = await request('POST', '/autodiscover/autodiscover.xml', { body: autodiscoverRequest('info@firma.de') + ' '.repeat(20_000) });
    expect(huge.status).toBe(413);
  });
});

describe('Apple configuration profile', () => {
  it('needs an admin login; an unknown account is 404', async () => {
    const anonymous = new AdminClient(apiBase(server));
    expect((await anonymous.get('/api/v1/accounts/info@firma.de/apple-profile')).status).toBe(401);
    expect((await owner.get('/api/v1/accounts/niemand@firma.de/apple-profile')).status).toBe(404);
  });

  it.skipIf(NO_PYTHON !== null)('is a valid plist with one com.apple.mail.managed payload, no password, and stable ids', async () => {
    const first = await admin.request('GET', '/api/v1/accounts/info@firma.de/apple-profile');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/x-apple-aspen-config');
    expect(first.headers.get('content-disposition')).toBe('attachment; filename="info@firma.de.mobileconfig"');
    const text = first.body as string;
    expect(text).not.toMatch(/<key>(Incoming|Outgoing)Password<\/key>/); // the device asks for it at installation
    const script = 'import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))';
    const child = run('python3', ['-c', script]);
    child.child.stdin!.end(text);
    const profile = JSON.parse((await child).stdout);
    expect(profile).toMatchObject({ PayloadType: 'Configuration', PayloadVersion: 1, PayloadRemovalDisallowed: false });
    expect(profile.PayloadContent).toHaveLength(1);
    const mail = profile.PayloadContent[0];
    expect(mail).toEqual({
      EmailAccountDescription: 'info@firma.de',
      EmailAccountName: 'Firma & Co. Info',
      EmailAccountType: 'EmailTypeIMAP',
      EmailAddress: 'info@firma.de',
      IncomingMailServerAuthentication: 'EmailAuthPassword',
      IncomingMailServerHostName: TEST_HOSTNAME,
      IncomingMailServerPortNumber: server.ports.imaps,
      IncomingMailServerUseSSL: true,
      IncomingMailServerUsername: 'info@firma.de',
      OutgoingMailServerAuthentication: 'EmailAuthPassword',
      OutgoingMailServerHostName: TEST_HOSTNAME,
      OutgoingMailServerPortNumber: server.ports.submissions,
      OutgoingMailServerUseSSL: true,
      OutgoingMailServerUsername: 'info@firma.de',
      OutgoingPasswordSameAsIncomingPassword: true,
      PayloadDescription: 'Mail account info@firma.de',
      PayloadDisplayName: 'info@firma.de',
      PayloadIdentifier: expect.stringMatching(/^test\.postfach\.mx\.postfach\.mail\.[0-9A-F-]{36}$/),
      PayloadType: 'com.apple.mail.managed',
      PayloadUUID: expect.stringMatching(/^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/),
      PayloadVersion: 1
    });
    expect(profile.PayloadUUID).not.toBe(mail.PayloadUUID);
    // a second download is the same profile: installing it replaces the first instead of adding another account
    expect((await owner.request('GET', '/api/v1/accounts/info@firma.de/apple-profile')).body).toBe(text);
  });

  it('is listed in the OpenAPI document for admin users', async () => {
    const docs = (await owner.get('/api/docs')).body;
    expect(docs.paths['/api/v1/accounts/{address}/apple-profile'].get['x-access']).toBe('admin');
  });
});

describe('behind a port mapping', () => {
  it('names the public ports where configured (imaps.publicPort, submission.publicPort) and the bound ones elsewhere', async () => {
    const mapped = await startServer({
      overrides: {
        'smtp.port': -1,
        'http.port': 0,
        'imap.port': 0,
        'imaps.port': 0,
        'imaps.publicPort': 993,
        'pop3.port': -1,
        'pop3s.port': 0,
        'submission.port': 0,
        'submission.publicPort': 587,
        'submissions.port': 0
      }
    });
    try {
      await provision(mapped, 'firma.de', ['info']);
      const { ports } = mapped;
      const response = await fetch(`http://127.0.0.1:${ports.http}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=info%40firma.de`);
      const provider = parseXml(await response.text()).clientConfig.emailProvider;
      const listed = (servers: Array<{ '@type': string; port: string; socketType: string }>) => servers.map((x) => `${x['@type']} ${x.socketType} ${x.port}`);
      expect(listed(provider.incomingServer)).toEqual(['imap SSL 993', `imap STARTTLS ${ports.imap}`, `pop3 SSL ${ports.pop3s}`]);
      expect(listed(provider.outgoingServer)).toEqual([`smtp SSL ${ports.submissions}`, 'smtp STARTTLS 587']);

      const { owner: mappedOwner } = await adminClients(mapped);
      const settings = (await mappedOwner.get('/api/v1/accounts/info@firma.de/client-settings')).body;
      expect(settings.incoming.map((x: { protocol: string; security: string; port: number }) => `${x.protocol} ${x.security} ${x.port}`)).toEqual(['imap tls 993', `imap starttls ${ports.imap}`, `pop3 tls ${ports.pop3s}`]);
      const records = (await mappedOwner.get('/api/v1/domains/firma.de')).body.records as Array<{ kind: string; port?: number; value: string }>;
      const srv = Object.fromEntries(records.filter((r) => r.kind.startsWith('SRV_')).map((r) => [r.kind, r.port === 0 ? r.value : r.port]));
      expect(srv).toEqual({ SRV_IMAPS: 993, SRV_IMAP: ports.imap, SRV_POP3S: ports.pop3s, SRV_POP3: '.', SRV_SUBMISSIONS: ports.submissions, SRV_SUBMISSION: 587 });
    } finally {
      await mapped.close();
    }
  });
});
