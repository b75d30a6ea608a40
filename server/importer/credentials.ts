// The remote password of an import job at rest: AES-256-GCM with a key kept in a file of the data folder (not in the
// database, so a leaked database file or dump holds only ciphertext), bound to the job's account, host, port, user and
// connection security.
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** in secrets/, which `postfach backup` carries along (a restored server can still open the stored passwords) */
const KEY_FILE = path.join('secrets', 'import-password.key');
const KEY_BYTES = 32;
const IV_BYTES = 12;
const VERSION = 'v1';

/** What the sealed password is bound to: copying it into a job that points elsewhere makes it undecryptable. */
export interface CredentialBinding {
  accountId: number;
  host: string;
  port: number;
  username: string;
  /** a row changed to plaintext or to an unchecked certificate no longer opens: the password is not sent that way */
  encryption: string;
  verifyCertificate: boolean;
}

const aad = (b: CredentialBinding) =>
  Buffer.from(['postfach-import', b.accountId, b.host.toLowerCase(), b.port, b.username, b.encryption, b.verifyCertificate ? 'verify' : 'no-verify'].join('\0'));

/** The key, created on first use (mode 0600, fsynced). Several processes may race to create it: the first one wins. */
export async function importKey(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, KEY_FILE);
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    const handle = await fsp.open(file, 'wx', 0o600);
    try {
      await handle.write(crypto.randomBytes(KEY_BYTES));
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // a reader that lost the race may see the file before its bytes: wait for the winner's write
  for (let attempt = 0; ; attempt++) {
    const key = await fsp.readFile(file);
    if (key.length === KEY_BYTES) return key;
    if (attempt >= 20) throw new Error(`${file} is not a ${KEY_BYTES}-byte key; remove it (stored import passwords then need to be entered again)`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function sealPassword(key: Buffer, password: string, binding: CredentialBinding): string {
  const iv = crypto.randomBytes(IV_BYTES);
  const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(binding));
  const sealed = Buffer.concat([cipher.update(password, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), sealed.toString('base64')].join('.');
}

/** The password, or null when it cannot be opened (other key, tampered row, or a binding that changed). */
export function openPassword(key: Buffer, sealed: string, binding: CredentialBinding): string | null {
  const [version, iv, tag, body] = sealed.split('.');
  if (version !== VERSION || !iv || !tag || body === undefined) return null;
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAAD(aad(binding));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}
