// TLS material at start-up: certificate files named in the config (watched and reloaded when they change), or a
// self-signed certificate generated once in the data folder.
import fs from 'node:fs';
import path from 'node:path';
import { generate } from 'selfsigned';
import type { Logger } from '../log/logger.js';
import { TlsMaterial, TlsPairError, type TlsPair } from './material.js';

export { TLS_DEFAULTS, TlsMaterial } from './material.js';

export interface TlsOptions {
  cert: string;
  key: string;
  /** seconds between checks of the files' size and time (the fallback where file events do not arrive); default 60 */
  watchInterval?: number;
  dataDir: string;
  hostname: string;
}

export async function loadTlsMaterial(options: TlsOptions, log: Logger): Promise<TlsMaterial> {
  const tlsLog = log.child({ module: 'tls' });
  if (options.cert || options.key) {
    if (!options.cert || !options.key) throw new Error('config: tls.cert and tls.key must be set together');
    let material: TlsMaterial;
    try {
      material = new TlsMaterial(readPair(options.cert, options.key), 'files', tlsLog);
    } catch (err) {
      // at start-up there is no previous certificate to keep: refuse to start, naming the files
      const reason = err instanceof TlsPairError ? err.message : (err as Error).message;
      throw new Error(`config: tls.cert/tls.key (${options.cert}, ${options.key}): ${reason}`);
    }
    const facts = material.certificate;
    tlsLog.info({ cert: options.cert, subject: facts.subject, fingerprint: facts.fingerprint, notAfter: facts.validTo.toISOString() }, 'TLS certificate loaded from files; watching them for changes');
    watchCertificateFiles(material, options.cert, options.key, (options.watchInterval ?? 60) * 1000, tlsLog);
    return material;
  }
  return new TlsMaterial(await selfSignedPair(options, tlsLog), 'self-signed', tlsLog);
}

function readPair(certFile: string, keyFile: string): TlsPair {
  return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8') };
}

/** The self-signed pair in <dataDir>/tls, generated (and announced loudly) when it does not exist yet. */
export async function selfSignedPair(options: { dataDir: string; hostname: string }, log: Logger): Promise<TlsPair> {
  const dir = path.join(options.dataDir, 'tls');
  const certFile = path.join(dir, 'selfsigned.crt');
  const keyFile = path.join(dir, 'selfsigned.key');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) return readPair(certFile, keyFile);
  fs.mkdirSync(dir, { recursive: true });
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 5);
  const pems = await generate([{ name: 'commonName', value: options.hostname }], {
    keySize: 2048,
    algorithm: 'sha256',
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: options.hostname }, { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }
    ]
  });
  fs.writeFileSync(keyFile, pems.private, { mode: 0o600 });
  fs.writeFileSync(certFile, pems.cert);
  log.warn({ cert: certFile }, 'No TLS certificate configured: generated a SELF-SIGNED certificate. Mail clients will warn; set tls.cert and tls.key (or acme.enabled) for production.');
  return { cert: pems.cert, key: pems.private };
}

/** Events of one editor save or certbot run arrive in bursts; reload once they settle. */
const SETTLE_MS = 200;

/**
 * Reloads the pair when either file changes. fs.watch on the folders sees files replaced by rename (editors, certbot's
 * symlink swap) at once; a periodic stat of both files (following symlinks) catches what file events miss (network
 * file systems, a folder that appears later). A pair that fails its checks is logged and the current one kept; the
 * same files are not retried until they change again.
 */
export function watchCertificateFiles(material: TlsMaterial, certFile: string, keyFile: string, intervalMs: number, log: Logger): void {
  const signature = () => [certFile, keyFile].map((file) => {
    try {
      const s = fs.statSync(file);
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch {
      return 'missing';
    }
  }).join('|');
  let seen = signature();
  let timer: NodeJS.Timeout | null = null;

  const check = () => {
    timer = null;
    const now = signature();
    if (now === seen) return;
    seen = now;
    let pair: TlsPair;
    try {
      pair = readPair(certFile, keyFile);
    } catch (err) {
      log.error({ reason: (err as Error).message }, 'TLS certificate files cannot be read; keeping the current certificate');
      return;
    }
    material.replace(pair, 'files');
  };
  const soon = () => {
    if (timer) timer.refresh();
    else timer = setTimeout(check, SETTLE_MS).unref();
  };

  const names = new Set([path.basename(certFile), path.basename(keyFile)]);
  for (const dir of new Set([path.dirname(certFile), path.dirname(keyFile)])) {
    try {
      const watcher = fs.watch(dir, { persistent: false }, (_event, name) => {
        if (!name || names.has(name.toString())) soon();
      });
      watcher.on('error', (err) => log.warn({ err, dir }, 'watching the TLS certificate folder failed; checking every interval'));
      material.addCleanup(() => watcher.close());
    } catch (err) {
      log.warn({ err, dir }, 'cannot watch the TLS certificate folder; checking every interval');
    }
  }
  const poll = setInterval(check, intervalMs).unref();
  material.addCleanup(() => {
    clearInterval(poll);
    if (timer) clearTimeout(timer);
  });
}
