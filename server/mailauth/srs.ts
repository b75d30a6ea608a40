// Sender Rewriting Scheme for forwarded mail: the envelope sender becomes an address at the forwarding domain, so
// SPF passes at the destination, and a bounce to it is decoded back to the original sender. SRS0/SRS1 as in
// Shevek's "Sender Rewriting Scheme" paper (the format postsrsd and Postfix setups use), with a keyed hash and a
// day stamp so nobody can use the forwarder as an open relay for bounces.
import crypto from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const DAY_MS = 86_400_000;
/** day stamps count modulo 1024 days (two base32 characters) */
const STAMP_CYCLE = 1024;
/** how long a rewritten address stays valid for bounces */
const MAX_AGE_DAYS = 21;
const HASH_LENGTH = 6;

const SRS0 = /^srs0[=+-]([^=]+)=([^=]{2})=([^=]+)=(.+)$/i;
const SRS1 = /^srs1[=+-]([^=]+)=([^=]+)=[=+-](.+)$/i;

function splitAddress(address: string): { local: string; domain: string } | null {
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return null;
  return { local: address.slice(0, at), domain: address.slice(at + 1).toLowerCase() };
}

export class Srs {
  constructor(
    private readonly secret: Buffer,
    private readonly now: () => number = Date.now
  ) {}

  private hash(...parts: string[]): string {
    const digest = crypto.createHmac('sha256', this.secret).update(parts.join('\0').toLowerCase()).digest();
    let out = '';
    for (let i = 0; i < HASH_LENGTH; i++) out += BASE32[digest[i] & 31];
    return out;
  }

  private stamp(): string {
    const day = Math.floor(this.now() / DAY_MS) % STAMP_CYCLE;
    return BASE32[day >> 5] + BASE32[day & 31];
  }

  private stampValid(stamp: string): boolean {
    const s = stamp.toUpperCase();
    const hi = BASE32.indexOf(s[0]);
    const lo = BASE32.indexOf(s[1]);
    if (hi < 0 || lo < 0) return false;
    const today = Math.floor(this.now() / DAY_MS) % STAMP_CYCLE;
    const age = (today - ((hi << 5) | lo) + STAMP_CYCLE) % STAMP_CYCLE;
    return age <= MAX_AGE_DAYS;
  }

  /** Whether `a` equals the expected hash, compared without regard to case (mail systems may change it). */
  private hashMatches(given: string, expected: string): boolean {
    const a = Buffer.from(given.toUpperCase());
    const b = Buffer.from(expected.toUpperCase());
    return a.length === b.length && crypto.timingSafeEqual(a, b);
  }

  /** The envelope sender to use when `forwardingDomain` passes on mail from `sender` ('' stays '': bounces are not rewritten). */
  forward(sender: string, forwardingDomain: string): string {
    const parts = splitAddress(sender);
    if (!parts) return sender;
    if (parts.domain === forwardingDomain.toLowerCase()) return sender;
    const srs1 = SRS1.exec(parts.local);
    if (srs1) {
      // already an SRS1 address: keep its first hop, rehash for us
      const [, , firstHop, rest] = srs1;
      return `SRS1=${this.hash(firstHop, rest)}=${firstHop}==${rest}@${forwardingDomain}`;
    }
    if (SRS0.test(parts.local)) {
      // another forwarder's SRS0: wrap it, so bounces go back through that forwarder (only it can check its hash)
      const rest = parts.local.slice(5); // after "SRS0=" (or + / -)
      return `SRS1=${this.hash(parts.domain, rest)}=${parts.domain}==${rest}@${forwardingDomain}`;
    }
    const stamp = this.stamp();
    return `SRS0=${this.hash(stamp, parts.domain, parts.local)}=${stamp}=${parts.domain}=${parts.local}@${forwardingDomain}`;
  }

  /** The address a bounce to an SRS address goes back to, or null when it is not one of ours or has expired. */
  reverse(address: string): string | null {
    const parts = splitAddress(address);
    if (!parts) return null;
    const srs0 = SRS0.exec(parts.local);
    if (srs0) {
      const [, hash, stamp, domain, local] = srs0;
      if (!this.hashMatches(hash, this.hash(stamp, domain, local)) || !this.stampValid(stamp)) return null;
      return `${local}@${domain}`;
    }
    const srs1 = SRS1.exec(parts.local);
    if (srs1) {
      const [, hash, firstHop, rest] = srs1;
      if (!this.hashMatches(hash, this.hash(firstHop, rest))) return null;
      return `SRS0=${rest}@${firstHop}`;
    }
    return null;
  }

  /** Whether an address looks like SRS at all (so the MX asks reverse() before the directory). */
  static looksLike(address: string): boolean {
    return /^srs[01][=+-]/i.test(address);
  }
}

/** A named server secret, generated on first use and kept in the database (so backups carry it). */
export async function serverSecret(db: Kysely<Database>, name: string): Promise<Buffer> {
  const existing = await db.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirst();
  if (existing) return Buffer.from(existing.value, 'base64');
  const value = crypto.randomBytes(32).toString('base64');
  await db.insertInto('server_secrets').values({ name, value, created_at: Date.now() }).onConflict((oc) => oc.column('name').doNothing()).execute();
  const row = await db.selectFrom('server_secrets').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return Buffer.from(row.value, 'base64');
}
