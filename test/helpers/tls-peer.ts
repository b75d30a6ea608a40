// Test helper: which certificate a listener presents to a new connection, over implicit TLS or after the protocol's
// STARTTLS (SMTP, IMAP, POP3 STLS), with node's TLS client or with `openssl s_client` as an independent one.
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { generate } from 'selfsigned';

export type StartTls = 'smtp' | 'imap' | 'pop3';

/** SHA-256 fingerprint of a PEM certificate, as node and openssl print it (AA:BB:…). */
export function fingerprintOf(certPem: string): string {
  return new crypto.X509Certificate(certPem).fingerprint256;
}

/** A fresh self-signed pair for `name` (2048-bit RSA). */
export async function certificatePair(name: string): Promise<{ key: string; cert: string; fingerprint: string }> {
  const pems = await generate([{ name: 'commonName', value: name }], { keySize: 2048, algorithm: 'sha256', extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: name }] }] });
  return { key: pems.private, cert: pems.cert, fingerprint: fingerprintOf(pems.cert) };
}

/** Reads from a plain socket until `pattern` matches what arrived (5 s at most). */
function readUntil(socket: net.Socket, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => finish(new Error(`no ${pattern} within 5 s; got ${JSON.stringify(text)}`)), 5000);
    const onData = (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (pattern.test(text)) finish(null);
    };
    const onClose = () => finish(new Error(`connection closed before ${pattern}; got ${JSON.stringify(text)}`));
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      if (err) reject(err);
      else resolve(text);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** The protocol dialogue up to the point where the TLS handshake starts. */
async function negotiateStartTls(socket: net.Socket, protocol: StartTls): Promise<void> {
  if (protocol === 'smtp') {
    await readUntil(socket, /^220 .*\r\n/m);
    socket.write('EHLO tls-peer.test\r\n');
    await readUntil(socket, /^250 .*\r\n/m);
    socket.write('STARTTLS\r\n');
    await readUntil(socket, /^220 .*\r\n/m);
  } else if (protocol === 'imap') {
    await readUntil(socket, /^\* OK .*\r\n/m);
    socket.write('t1 STARTTLS\r\n');
    await readUntil(socket, /^t1 OK .*\r\n/m);
  } else {
    await readUntil(socket, /^\+OK.*\r\n/m);
    socket.write('STLS\r\n');
    await readUntil(socket, /^\+OK.*\r\n/m);
  }
}

/** The fingerprint of the certificate a new connection to `port` gets (node's TLS client). */
export async function presentedFingerprint(port: number, starttls?: StartTls): Promise<string> {
  let plain: net.Socket | undefined;
  if (starttls) {
    plain = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    await negotiateStartTls(plain, starttls);
  }
  const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
    const options: tls.ConnectionOptions = plain ? { socket: plain, rejectUnauthorized: false } : { port, host: '127.0.0.1', rejectUnauthorized: false };
    const s = tls.connect(options, () => resolve(s));
    s.once('error', reject);
  });
  try {
    expectModernTls(secure);
    return secure.getPeerCertificate().fingerprint256;
  } finally {
    secure.destroy();
    plain?.destroy();
  }
}

function expectModernTls(socket: tls.TLSSocket): void {
  const version = socket.getProtocol();
  if (version !== 'TLSv1.2' && version !== 'TLSv1.3') throw new Error(`negotiated ${version}, expected TLS 1.2 or newer`);
}

const run = promisify(execFile);

/** The fingerprint `openssl s_client` sees (an independent TLS client), with its own STARTTLS where asked. */
export async function opensslFingerprint(port: number, starttls?: StartTls): Promise<string> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, ...(starttls ? ['-starttls', starttls] : [])];
  const child = run('openssl', args, { timeout: 10_000 });
  child.child.stdin?.end('');
  const { stdout } = await child;
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(stdout)?.[0];
  if (!pem) throw new Error(`openssl s_client printed no certificate: ${stdout.slice(0, 500)}`);
  return fingerprintOf(pem);
}

/**
 * What a TLS 1.1 handshake gets: 'connected', or the error code. The client allows old protocols (security level
 * 0), so a refusal is the server's: ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION.
 */
export async function tls11Handshake(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}
