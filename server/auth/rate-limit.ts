// Login failure limiting shared by IMAP, POP3 and submission: per client address and per account name, in memory.
import net from 'node:net';
import { setTimeout as sleepFor } from 'node:timers/promises';

/** At most `maxFailures` failed logins within any `windowMs`; the next attempt is refused until the oldest expires. */
export interface FailureRule {
  maxFailures: number;
  windowMs: number;
}

/**
 * Per client address (IPv4 address, IPv6 /64): 10 failures in 10 minutes. Generous enough for an office behind one
 * NAT address where a few phones still hold an old password, tight enough that one address guessing passwords across
 * many accounts (spraying) gets at most 1,440 guesses a day.
 */
export const IP_RULE: FailureRule = { maxFailures: 10, windowMs: 10 * 60_000 };

/**
 * Per account name: 5 failures in 15 minutes, counted whatever the address they come from, so a botnet gets at most
 * 480 guesses a day at one mailbox. A lock lasts until the oldest of those failures is 15 minutes old and does not
 * escalate: anyone who knows an address can trigger it, and escalation would let them shut its owner out for days.
 */
export const ACCOUNT_RULE: FailureRule = { maxFailures: 5, windowMs: 15 * 60_000 };

/**
 * Entries kept per table (client addresses, account names). An entry (a name of at most 320 characters, at most 10
 * timestamps) takes at most ~1 KB, so both tables together stay within ~20 MB however many names are tried; past the
 * cap the tenth touched longest ago goes. Flushing a victim's counter that way takes ~9,000 fresh failures, which the
 * per-address rule spreads over 900 addresses for every 5 extra guesses at the victim.
 */
export const MAX_TRACKED = 10_000;

/** Progressive delay before a refusal is answered: 250 ms after the first failure, doubling, at most 2 s. */
export const BASE_DELAY_MS = 250;
export const MAX_DELAY_MS = 2_000;

/** Longest account key kept: an address is at most 64 + 1 + 253 characters (RFC 5321 §4.5.3.1). */
const MAX_KEY_LENGTH = 320;

export type LimitVerdict = { locked: false } | { locked: true; scope: 'ip' | 'account'; retryAfterMs: number };

export interface LoginLimiterOptions {
  perIp?: FailureRule;
  perAccount?: FailureRule;
  /** entries per table, see MAX_TRACKED */
  maxTracked?: number;
  /** milliseconds since the epoch; tests inject their own clock */
  now?: () => number;
  /** how the progressive delay waits; tests inject one that does not */
  sleep?: (ms: number) => Promise<void>;
}

/** Failure timestamps per key within one rule's window, oldest-touched key first (Map insertion order). */
class FailureLog {
  private readonly entries = new Map<string, number[]>();

  constructor(
    private readonly rule: FailureRule,
    private readonly cap: number
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** Failures still inside the window; forgets the key when none are. */
  recent(key: string, now: number): number[] {
    const stamps = this.entries.get(key);
    if (!stamps) return [];
    const live = stamps.filter((t) => now - t < this.rule.windowMs);
    if (!live.length) this.entries.delete(key);
    else if (live.length !== stamps.length) this.entries.set(key, live);
    return live;
  }

  /** Milliseconds until the key may try again; 0 when it may now. */
  lockedFor(key: string, now: number): number {
    const live = this.recent(key, now);
    if (live.length < this.rule.maxFailures) return 0;
    return live[live.length - this.rule.maxFailures] + this.rule.windowMs - now;
  }

  add(key: string, now: number): void {
    const live = this.recent(key, now);
    live.push(now);
    if (live.length > this.rule.maxFailures) live.splice(0, live.length - this.rule.maxFailures);
    this.entries.delete(key); // re-inserted as the most recently touched
    this.entries.set(key, live);
    if (this.entries.size > this.cap) {
      // Evict a tenth at once: each fresh iterator walks past the holes earlier deletions left at the front of the
      // Map, so evicting one entry per insert would cost O(cap) per failure under a flood.
      const keep = this.cap - Math.ceil(this.cap / 10);
      for (const oldest of this.entries.keys()) {
        if (this.entries.size <= keep) break;
        this.entries.delete(oldest);
      }
    }
  }

  clear(key: string): void {
    this.entries.delete(key);
  }
}

/** Eight 16-bit groups of a valid IPv6 address (zone id dropped, embedded IPv4 converted). */
function ipv6Groups(ip: string): number[] {
  let text = ip.split('%')[0].toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = text.slice(0, v4.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const double = text.indexOf('::');
  const head = (double < 0 ? text : text.slice(0, double)).split(':').filter(Boolean);
  const tail = double < 0 ? [] : text.slice(double + 2).split(':').filter(Boolean);
  const zeros = double < 0 ? [] : Array<string>(8 - head.length - tail.length).fill('0');
  return [...head, ...zeros, ...tail].map((g) => parseInt(g, 16));
}

/**
 * The key a client address is counted under: IPv4 as is (also when IPv4-mapped), IPv6 by its /64, since one
 * subscriber usually holds a whole /64 (RFC 6177) and could otherwise rotate through 2^64 addresses.
 */
export function clientKey(ip: string): string {
  const unmapped = ip.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  if (net.isIPv4(unmapped)) return unmapped;
  if (net.isIPv6(ip)) {
    return ipv6Groups(ip)
      .slice(0, 4)
      .map((g) => g.toString(16))
      .join(':') + '::/64';
  }
  return ip.slice(0, 64);
}

/**
 * Counts failed logins per client address and per account name. Protocols call check() before any password work,
 * recordFailure() after a wrong password, recordSuccess() after a right one. Account names are counted whether or not
 * an account exists, so the limiter's answers reveal nothing about which addresses exist. One instance is shared by
 * every listener of the process: a guesser switching from IMAP to POP3 stays counted.
 */
export class LoginLimiter {
  private readonly byIp: FailureLog;
  private readonly byAccount: FailureLog;
  private readonly now: () => number;
  private readonly wait: (ms: number) => Promise<void>;

  constructor(options: LoginLimiterOptions = {}) {
    const cap = options.maxTracked ?? MAX_TRACKED;
    this.byIp = new FailureLog(options.perIp ?? IP_RULE, cap);
    this.byAccount = new FailureLog(options.perAccount ?? ACCOUNT_RULE, cap);
    this.now = options.now ?? Date.now;
    // unref: a pending delay never holds the process open at shutdown
    this.wait = options.sleep ?? ((ms) => sleepFor(ms, undefined, { ref: false }));
  }

  /** Whether this client or this account name is locked; account null when the user name is not an address. */
  check(ip: string, account: string | null): LimitVerdict {
    const now = this.now();
    const ipWait = this.byIp.lockedFor(clientKey(ip), now);
    if (ipWait > 0) return { locked: true, scope: 'ip', retryAfterMs: ipWait };
    if (account !== null) {
      const accountWait = this.byAccount.lockedFor(accountKey(account), now);
      if (accountWait > 0) return { locked: true, scope: 'account', retryAfterMs: accountWait };
    }
    return { locked: false };
  }

  recordFailure(ip: string, account: string | null): void {
    const now = this.now();
    this.byIp.add(clientKey(ip), now);
    if (account !== null) this.byAccount.add(accountKey(account), now);
  }

  /**
   * Clears the account's failures. The client address keeps its count: otherwise a guesser holding one valid account
   * could log into it between guesses at others and never be limited.
   */
  recordSuccess(account: string): void {
    this.byAccount.clear(accountKey(account));
  }

  /** How long to hold back a refusal: by the larger of the two recent-failure counts (see BASE_DELAY_MS). */
  failureDelayMs(ip: string, account: string | null): number {
    const now = this.now();
    const failures = Math.max(this.byIp.recent(clientKey(ip), now).length, account === null ? 0 : this.byAccount.recent(accountKey(account), now).length);
    if (failures === 0) return 0;
    return Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** (failures - 1));
  }

  /** Waits the progressive delay (no-op when it is 0). */
  async delay(ip: string, account: string | null): Promise<void> {
    const ms = this.failureDelayMs(ip, account);
    if (ms > 0) await this.wait(ms);
  }

  /** Entries held, for tests and metrics. */
  get tracked(): { ips: number; accounts: number } {
    return { ips: this.byIp.size, accounts: this.byAccount.size };
  }
}

function accountKey(account: string): string {
  return account.slice(0, MAX_KEY_LENGTH);
}
