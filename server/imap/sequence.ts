// Sequence sets (RFC 9051 §9 sequence-set, seq-range; "$" from RFC 5182 SEARCHRES): parsed once, resolved against the
// largest number in use, and written back compactly for COPYUID (RFC 4315 §3), VANISHED (RFC 7162) and ESEARCH ALL.

/** nz-number and uniqueid are 32-bit unsigned, 0 excluded (RFC 9051 §9). */
export const MAX_NZ_NUMBER = 4_294_967_295;

/**
 * Comma-separated parts one set may have. Real clients stay far below (RFC 7162 §4 asks them to keep command lines
 * under 8192 octets); a set with more is an attack on the server's time, refused before any work (hostile input).
 */
export const MAX_SEQUENCE_PARTS = 10_000;

export class SequenceSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SequenceSetError';
  }
}

/** One part as written: a number, or "*" (the largest number in use, known only when resolved). */
export interface SequenceRange {
  start: number | '*';
  end: number | '*';
}

/** A parsed set; numbers are message sequence numbers or UIDs, as the command says. */
export class SequenceSet {
  private cache: { max: number; ranges: Array<[number, number]> } | null = null;

  constructor(
    /** the parts as written, in order */
    readonly ranges: readonly SequenceRange[],
    /** "$": the saved search result (RFC 5182 §2.1); the session substitutes it, resolving it here is an error */
    readonly saved = false
  ) {}

  /** "*" appears somewhere. */
  get hasStar(): boolean {
    return this.ranges.some((r) => r.start === '*' || r.end === '*');
  }

  /** The largest number written out (0 when there is none): a sequence number above EXISTS deserves BAD (RFC 9051 §9). */
  get highest(): number {
    let highest = 0;
    for (const r of this.ranges) {
      if (r.start !== '*' && r.start > highest) highest = r.start;
      if (r.end !== '*' && r.end > highest) highest = r.end;
    }
    return highest;
  }

  /**
   * Ascending, merged, non-overlapping [low, high] ranges with "*" = max; n:m with n > m is m:n (RFC 9051 §9
   * seq-range), so 559:* with max 500 is 500:559. Nothing below 1: "*" of an empty mailbox (max 0) selects nothing.
   * Unless clamp is set, numbers above max stay (a UID above the last known one may still exist).
   */
  resolve(max: number, clamp = false): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const [low, high] of this.resolved(max)) {
      if (!clamp) out.push([low, high]);
      else if (low <= max) out.push([low, Math.min(high, max)]);
    }
    return out;
  }

  /** Whether n is in the set, "*" being max. Binary search over the resolved ranges (cached per max). */
  includes(n: number, max: number): boolean {
    const ranges = this.resolved(max);
    let lo = 0;
    let hi = ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (n < ranges[mid][0]) hi = mid - 1;
      else if (n > ranges[mid][1]) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** How many numbers from 1 to max the set holds. */
  count(max: number): number {
    let total = 0;
    for (const [low, high] of this.resolve(max, true)) total += high - low + 1;
    return total;
  }

  /** The numbers from 1 to max the set holds, ascending, each once. */
  *values(max: number): Generator<number> {
    for (const [low, high] of this.resolve(max, true)) for (let n = low; n <= high; n++) yield n;
  }

  toString(): string {
    if (this.saved) return '$';
    return this.ranges.map((r) => (r.start === r.end ? `${r.start}` : `${r.start}:${r.end}`)).join(',');
  }

  private resolved(max: number): Array<[number, number]> {
    if (this.saved) throw new SequenceSetError('"$" stands for the saved search result and cannot be resolved here');
    if (this.cache?.max === max) return this.cache.ranges;
    const pairs: Array<[number, number]> = [];
    for (const r of this.ranges) {
      let low = r.start === '*' ? max : r.start;
      let high = r.end === '*' ? max : r.end;
      if (low > high) [low, high] = [high, low];
      if (low < 1) low = 1;
      if (high >= low) pairs.push([low, high]);
    }
    pairs.sort((a, b) => a[0] - b[0]);
    const ranges: Array<[number, number]> = [];
    for (const pair of pairs) {
      const last = ranges[ranges.length - 1];
      if (last && pair[0] <= last[1] + 1) last[1] = Math.max(last[1], pair[1]);
      else ranges.push(pair);
    }
    this.cache = { max, ranges };
    return ranges;
  }
}

const NZ_NUMBER = /^[1-9][0-9]{0,9}$/;

function invalid(text: string): SequenceSetError {
  return new SequenceSetError(`Invalid sequence set ${text.slice(0, 40).replace(/[^\x21-\x7e]/g, '?')}`);
}

function bound(part: string, text: string): number | '*' {
  if (part === '*') return '*';
  if (!NZ_NUMBER.test(part)) throw invalid(text);
  const n = Number(part);
  if (n > MAX_NZ_NUMBER) throw invalid(text);
  return n;
}

/** sequence-set (RFC 9051 §9) or "$" (RFC 5182 §2.1, only on its own). Throws SequenceSetError. */
export function parseSequenceSet(text: string): SequenceSet {
  if (text === '$') return new SequenceSet([], true);
  if (!text) throw invalid(text);
  // count the parts before splitting anything
  let parts = 1;
  for (let i = text.indexOf(','); i >= 0; i = text.indexOf(',', i + 1)) {
    if (++parts > MAX_SEQUENCE_PARTS) throw new SequenceSetError(`Sequence set has more than ${MAX_SEQUENCE_PARTS} parts`);
  }
  const ranges: SequenceRange[] = [];
  for (const part of text.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) {
      const n = bound(part, text);
      ranges.push({ start: n, end: n });
    } else {
      ranges.push({ start: bound(part.slice(0, colon), text), end: bound(part.slice(colon + 1), text) });
    }
  }
  return new SequenceSet(ranges);
}

/**
 * Numbers as a compact set: runs of consecutive ascending numbers become "a:b" ("1:3,7,9:10"). The order is kept
 * (COPYUID pairs source and target UIDs by position, RFC 4315 §3), so pass sorted numbers for the shortest text;
 * a repeated number is written once. Empty input gives "".
 */
export function compactSet(numbers: Iterable<number>): string {
  const out: string[] = [];
  let start = -1;
  let prev = -1;
  for (const n of numbers) {
    if (start >= 0 && (n === prev + 1 || n === prev)) {
      prev = n;
      continue;
    }
    if (start >= 0) out.push(start === prev ? `${start}` : `${start}:${prev}`);
    start = prev = n;
  }
  if (start >= 0) out.push(start === prev ? `${start}` : `${start}:${prev}`);
  return out.join(',');
}

/** Resolved ranges written as a set ("1:3,7"), for results kept as ranges rather than numbers. */
export function rangesToSet(ranges: Iterable<readonly [number, number]>): string {
  const out: string[] = [];
  for (const [low, high] of ranges) out.push(low === high ? `${low}` : `${low}:${high}`);
  return out.join(',');
}
