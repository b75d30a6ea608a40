// TLS material: certificate files named in the config, or a self-signed certificate generated once in the data folder.
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import type { Logger } from '../log/logger.js';

export interface TlsMaterial {
  key: string;
  cert: string;
  selfSigned: boolean;
}

/** Modern settings for every TLS listener: TLS 1.2 and newer. */
export const TLS_DEFAULTS = { minVersion: 'TLSv1.2' as const, honorCipherOrder: true };

export async function loadTlsMaterial(options: { cert: string; key: string; dataDir: string; hostname: string }, log: Logger): Promise<TlsMaterial> {
  if (options.cert || options.key) {
    if (!options.cert || !options.key) throw new Error('config: tls.cert and tls.key must be set together');
    const material = { cert: fs.readFileSync(options.cert, 'utf8'), key: fs.readFileSync(options.key, 'utf8'), selfSigned: false };
    tls.createSecureContext(material); // fails early on a mismatched key
    return material;
  }
  const dir = path.join(options.dataDir, 'tls');
  const certFile = path.join(dir, 'selfsigned.crt');
  const keyFile = path.join(dir, 'selfsigned.key');
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    return { cert: fs.readFileSync(certFile, 'utf8'), key: fs.readFileSync(keyFile, 'utf8'), selfSigned: true };
  }
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
  log.warn({ cert: certFile }, 'No TLS certificate configured: generated a SELF-SIGNED certificate. Mail clients will warn; set tls.cert and tls.key for production.');
  return { cert: pems.cert, key: pems.private, selfSigned: true };
}
