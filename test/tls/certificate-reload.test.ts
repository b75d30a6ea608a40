// Certificates from files, replaced under a running server: every TLS listener (MX STARTTLS, submission STARTTLS and
// implicit TLS, IMAP STARTTLS and IMAPS, HTTPS) presents the new certificate to new connections without a restart; a
// bad pair (key of another certificate, half-written file) is refused and the current one kept; TLS 1.1 is refused.
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metricSample } from '../helpers/metrics.js';
import { eventually } from '../helpers/smtp-wire.js';
import { startServer, tempDir, type TestServer } from '../helpers/server.js';
import { certificatePair, opensslFingerprint, presentedFingerprint, tls11Handshake, type StartTls } from '../helpers/tls-peer.js';

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

type Pair = Awaited<ReturnType<typeof certificatePair>>;

let server: TestServer;
let dir: string;
let pairs: Pair[];
/** [name, port, STARTTLS dialogue or implicit TLS] for every TLS listener */
let listeners: Array<[string, number, StartTls | undefined]>;

/** Replaces a file the way editors and certbot do: write a temp file beside it, then rename over it. */
function replaceFile(file: string, content: string): void {
  fs.writeFileSync(`${file}.new`, content);
  fs.renameSync(`${file}.new`, file);
}

async function fingerprints(): Promise<Record<string, string>> {
  const seen: Record<string, string> = {};
  for (const [name, port, starttls] of listeners) seen[name] = await presentedFingerprint(port, starttls);
  return seen;
}

const everywhere = (fingerprint: string) => Object.fromEntries(listeners.map(([name]) => [name, fingerprint]));


beforeAll(async () => {
  dir = tempDir('postfach-certs-');
  pairs = await Promise.all(['one.postfach.test', 'two.postfach.test', 'three.postfach.test', 'four.postfach.test'].map(certificatePair));
  fs.writeFileSync(path.join(dir, 'cert.pem'), pairs[0].cert);
  fs.writeFileSync(path.join(dir, 'key.pem'), pairs[0].key);
  server = await startServer({
    overrides: {
      'submission.port': 0,
      'submissions.port': 0,
      'imap.port': 0,
      'imaps.port': 0,
      'pop3.port': 0,
      'pop3s.port': 0,
      'http.port': 0,
      'http.tls': true,
      'tls.cert': path.join(dir, 'cert.pem'),
      'tls.key': path.join(dir, 'key.pem'),
      'tls.watchInterval': 1
    }
  });
  const p = server.ports;
  listeners = [
    ['smtp', p.smtp!, 'smtp'],
    ['submission', p.submission!, 'smtp'],
    ['submissions', p.submissions!, undefined],
    ['imap', p.imap!, 'imap'],
    ['imaps', p.imaps!, undefined],
    ['pop3', p.pop3!, 'pop3'],
    ['pop3s', p.pop3s!, undefined],
    ['https', p.http!, undefined]
  ];
});

afterAll(async () => {
  await server?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** postfach_tls_certificate_reloads_total{result} from /metrics, over HTTPS (the test trusts what it put there) */
async function reloads(result: 'loaded' | 'refused'): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port: server.ports.http, path: '/metrics', rejectUnauthorized: false }, (res) => {
        let body = '';
        res.on('data', (c) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
  return metricSample(text, 'postfach_tls_certificate_reloads_total', { result });
}

describe('certificate files replaced under a running server', () => {
  it('presents the configured certificate on every TLS listener, with TLS 1.2 or newer only', async () => {
    expect(await fingerprints()).toEqual(everywhere(pairs[0].fingerprint));
    for (const [, port, starttls] of listeners) if (!starttls) expect(await tls11Handshake(port)).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
  });

  it('serves a new certificate to new connections on every listener once both files are replaced', async () => {
    replaceFile(path.join(dir, 'key.pem'), pairs[1].key);
    replaceFile(path.join(dir, 'cert.pem'), pairs[1].cert);
    expect(await eventually(async () => (await presentedFingerprint(server.ports.imaps!)) === pairs[1].fingerprint, 5000, 50)).toBe(true);
    expect(await fingerprints()).toEqual(everywhere(pairs[1].fingerprint));
  });

  it.skipIf(!hasOpenssl)(`shows the new certificate to openssl s_client with its own STARTTLS for SMTP, IMAP and POP3${hasOpenssl ? '' : ' (skipped: openssl is not installed)'}`, async () => {
    expect(await opensslFingerprint(server.ports.smtp!, 'smtp')).toBe(pairs[1].fingerprint);
    expect(await opensslFingerprint(server.ports.imap!, 'imap')).toBe(pairs[1].fingerprint);
    expect(await opensslFingerprint(server.ports.pop3!, 'pop3')).toBe(pairs[1].fingerprint);
    expect(await opensslFingerprint(server.ports.submissions!)).toBe(pairs[1].fingerprint);
  });

  it('refuses a certificate whose key belongs to another one, keeps serving the current pair, and takes the pair once the key matches', async () => {
    const refusedBefore = await reloads('refused');
    // step one of a two-file update: the new certificate, the old key
    replaceFile(path.join(dir, 'cert.pem'), pairs[2].cert);
    expect(await eventually(async () => (await reloads('refused')) > refusedBefore, 5000, 50)).toBe(true);
    expect(await fingerprints()).toEqual(everywhere(pairs[1].fingerprint));
    // step two: the matching key
    replaceFile(path.join(dir, 'key.pem'), pairs[2].key);
    expect(await eventually(async () => (await presentedFingerprint(server.ports.smtp!, 'smtp')) === pairs[2].fingerprint, 5000, 50)).toBe(true);
    expect(await fingerprints()).toEqual(everywhere(pairs[2].fingerprint));
  });

  it('keeps the current pair when a file is truncated or garbage, and keeps serving', async () => {
    const refusedBefore = await reloads('refused');
    fs.writeFileSync(path.join(dir, 'cert.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n');
    expect(await eventually(async () => (await reloads('refused')) > refusedBefore, 5000, 50)).toBe(true);
    expect(await fingerprints()).toEqual(everywhere(pairs[2].fingerprint));
    fs.writeFileSync(path.join(dir, 'cert.pem'), pairs[2].cert); // restored: same pair, nothing to swap
  });

  it('notices files in a folder that was removed and created again (the watch is gone; the periodic check finds them)', async () => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'key.pem'), pairs[3].key);
    fs.writeFileSync(path.join(dir, 'cert.pem'), pairs[3].cert);
    expect(await eventually(async () => (await presentedFingerprint(server.ports.submission!, 'smtp')) === pairs[3].fingerprint, 5000, 100)).toBe(true);
    expect(await fingerprints()).toEqual(everywhere(pairs[3].fingerprint));
    expect(await reloads('loaded')).toBe(3);
  });
});
