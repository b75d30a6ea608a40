// Single-use confirmation tokens for destructive requests (account deletion): ask once, confirm with the token.
import crypto from 'node:crypto';

/** Long enough to read the warning and decide, short enough that a token found later is useless. */
export const CONFIRMATION_TTL_MS = 10 * 60_000;
/** Outstanding tokens kept at most; older ones are dropped first. */
const MAX_PENDING = 1000;

interface Pending {
  /** what the token confirms, e.g. `delete-account:17` (the account id, so a re-created namesake is not hit) */
  purpose: string;
  /** who asked: only the same principal may confirm */
  principal: string;
  expiresAt: number;
}

export class Confirmations {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly now: () => number) {}

  issue(purpose: string, principal: string): { token: string; expiresAt: number } {
    const now = this.now();
    for (const [token, p] of this.pending) if (p.expiresAt <= now || this.pending.size >= MAX_PENDING) this.pending.delete(token);
    const token = crypto.randomBytes(18).toString('base64url');
    const expiresAt = now + CONFIRMATION_TTL_MS;
    this.pending.set(token, { purpose, principal, expiresAt });
    return { token, expiresAt };
  }

  /** Consumes the token when it confirms this purpose for this principal; false otherwise (and it stays unused). */
  consume(token: string | undefined, purpose: string, principal: string): boolean {
    if (!token) return false;
    const p = this.pending.get(token);
    if (!p || p.purpose !== purpose || p.principal !== principal || p.expiresAt <= this.now()) return false;
    this.pending.delete(token);
    return true;
  }
}
