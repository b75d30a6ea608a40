// ACME against a real ACME CA on loopback (pebble): the first order fails while the CA is down and is retried; the
// CA validates HTTP-01 on the plain-HTTP challenge listener (resolving the host name through the test DNS server);
// every TLS listener then presents the issued certificate; it is renewed once it is within acme.renewBefore of its
// expiry (injected clock) and not before; a restart serves the stored certificate without ordering again.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config/load.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { NO_PEBBLE, freePort, pebbleTls, startPebble, type Pebble } from '../helpers/pebble.js';
import { TEST_HOSTNAME, startServer, tempDir, type TestServer } from '../helpers/server.js';
import { eventually } from '../helpers/smtp-wire.js';
import { fingerprintOf, presentedFingerprint } from '../helpers/tls-peer.js';

describe.skipIf(NO_PEBBLE !== null)(NO_PEBBLE ? `ACME with pebble (skipped: ${NO_PEBBLE})` : 'ACME certificates from pebble over HTTP-01', () => {
  let dns: TestDnsServer;
  let pebble: Pebble | undefined;
  let server: TestServer;
  let scratch: string;
  let dataDir: string;
  let pebblePort: number;
  let pebbleCert: { cert: string; key: string };
  /** the clock the ACME schedule reads: moved forward to make the certificate due for renewal */
  let offsetMs = 0;
  const now = () => Date.now() + offsetMs;
  const stored = () => path.join(dataDir, 'acme', 'certificate.crt');

  const start = () =>
    startServer({
      dns,
      dataDir,
      overrides: {
        'acme.enabled': true,
        'acme.directoryUrl': `https://127.0.0.1:${pebblePort}/dir`,
        'acme.caFile': pebbleCert.cert,
        'acme.email': 'chefin@firma.de',
        'acme.httpPort': 0,
        'http.port': 0,
        'http.tls': true,
        'imaps.port': 0,
        'submissions.port': 0
      },
      build: { acme: { checkIntervalMs: 150, retryMs: 300, pollMs: 100, now } }
    });

  beforeAll(async () => {
    dns = await startDnsServer({ [TEST_HOSTNAME]: [{ type: 'A', address: '127.0.0.1' }] });
    scratch = tempDir('postfach-acme-');
    dataDir = path.join(scratch, 'data');
    pebblePort = await freePort();
    pebbleCert = await pebbleTls(scratch);
    server = await start();
  });

  afterAll(async () => {
    await server?.close();
    await pebble?.stop();
    await dns?.close();
    fs.rmSync(scratch, { recursive: true, force: true });
  });

  it('serves the self-signed certificate while the CA cannot be reached, then the one the CA issued on every listener', async () => {
    const selfSigned = fingerprintOf(fs.readFileSync(path.join(dataDir, 'tls', 'selfsigned.crt'), 'utf8'));
    expect(await presentedFingerprint(server.ports.imaps!)).toBe(selfSigned);
    // the CA comes up after the first order failed: the retry gets the certificate
    pebble = await startPebble({ dir: scratch, port: pebblePort, httpPort: server.ports.acme!, dns: dns.address, tls: pebbleCert });
    expect(await eventually(() => fs.existsSync(stored()), 20_000, 50)).toBe(true);
    const issued = fs.readFileSync(stored(), 'utf8');
    const leaf = new crypto.X509Certificate(issued);
    expect(leaf.checkHost(TEST_HOSTNAME)).toBe(TEST_HOSTNAME);
    expect(leaf.issuer).toMatch(/Pebble Intermediate CA/);
    expect(fs.statSync(path.join(dataDir, 'acme', 'certificate.key')).mode & 0o777).toBe(0o600);
    expect(await eventually(async () => (await presentedFingerprint(server.ports.imaps!)) === leaf.fingerprint256, 3000, 25)).toBe(true);
    for (const port of [server.ports.submissions!, server.ports.http!]) expect(await presentedFingerprint(port)).toBe(leaf.fingerprint256);
    expect(await presentedFingerprint(server.ports.smtp!, 'smtp')).toBe(leaf.fingerprint256);
  });

  it('answers unknown challenge tokens with 404 and redirects other plain-HTTP requests to the admin UI', async () => {
    const base = `http://127.0.0.1:${server.ports.acme}`;
    const missing = await fetch(`${base}/.well-known/acme-challenge/not-a-pending-token`);
    expect(missing.status).toBe(404);
    const other = await fetch(`${base}/api/v1/session`, { redirect: 'manual' });
    expect(other.status).toBe(301);
    expect(other.headers.get('location')).toBe(`https://${TEST_HOSTNAME}:${server.ports.http}/api/v1/session`);
  });

  it('renews only once the certificate is within acme.renewBefore (30 days) of its expiry', async () => {
    const first = new crypto.X509Certificate(fs.readFileSync(stored(), 'utf8'));
    const written = fs.statSync(stored()).mtimeMs;
    // several checks pass (every 150 ms) without an order: the certificate is years from expiry
    await eventually(() => false, 600, 100);
    expect(fs.statSync(stored()).mtimeMs).toBe(written);
    offsetMs = new Date(first.validTo).getTime() - 29 * 86400_000 - Date.now();
    expect(await eventually(() => fs.statSync(stored()).mtimeMs !== written, 20_000, 50)).toBe(true);
    const second = new crypto.X509Certificate(fs.readFileSync(stored(), 'utf8'));
    expect(second.serialNumber).not.toBe(first.serialNumber);
    expect(await eventually(async () => (await presentedFingerprint(server.ports.imaps!)) === second.fingerprint256, 3000, 25)).toBe(true);
  });

  it('serves the stored certificate at once after a restart and does not order another', async () => {
    const current = fingerprintOf(fs.readFileSync(stored(), 'utf8'));
    const written = fs.statSync(stored()).mtimeMs;
    await server.close();
    server = await start();
    expect(await presentedFingerprint(server.ports.imaps!)).toBe(current);
    await eventually(() => false, 600, 100);
    expect(fs.statSync(stored()).mtimeMs).toBe(written);
  });
});

describe('ACME settings', () => {
  const load = (overrides: Record<string, unknown>) => () => loadConfig({ env: {}, overrides: { 'acme.enabled': true, ...overrides } });

  it('needs a plain HTTP listener for HTTP-01 and leaves the certificate files to ACME', () => {
    expect(load({ 'http.tls': true })).toThrow('config: acme.httpPort: ACME HTTP-01 needs a plain HTTP listener: set acme.httpPort (80 in production), or a plain http.port');
    expect(load({ 'http.port': -1 })).toThrow(/^config: acme\.httpPort: /);
    expect(load({ 'http.tls': true, 'acme.httpPort': 80 })).not.toThrow();
    expect(load({ 'tls.cert': '/etc/cert.pem', 'tls.key': '/etc/key.pem' })).toThrow('config: acme.enabled: ACME manages the certificate itself: leave tls.cert and tls.key empty');
    expect(load({ 'acme.directoryUrl': 'http://acme.example/directory' })).toThrow(/^config: acme\.directoryUrl: "http:\/\/acme\.example\/directory" is not an https:\/\/ URL$/);
  });
});
