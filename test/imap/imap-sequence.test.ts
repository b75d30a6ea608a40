// Tests for sequence sets (server/imap/sequence.ts): RFC 9051 §9 sequence-set grammar, "*" and reversed ranges,
// "$" (RFC 5182), membership, iteration, compact output for COPYUID/VANISHED/ESEARCH, and hostile huge sets.
import { describe, expect, it } from 'vitest';
import { compactSet, MAX_NZ_NUMBER, MAX_SEQUENCE_PARTS, parseSequenceSet, rangesToSet, SequenceSet, SequenceSetError } from '../../server/imap/sequence.js';
import { comparisonCounter } from '../helpers/work.js';

describe('parsing', () => {
  it('reads numbers, ranges and "*" in the order written', () => {
    const set = parseSequenceSet('1,3:5,7:*,*');
    expect(set.ranges).toEqual([
      { start: 1, end: 1 },
      { start: 3, end: 5 },
      { start: 7, end: '*' },
      { start: '*', end: '*' }
    ]);
    expect(set.saved).toBe(false);
    expect(set.hasStar).toBe(true);
    expect(set.highest).toBe(7);
    expect(set.toString()).toBe('1,3:5,7:*,*');
  });

  it('takes "$" alone as the saved search result (RFC 5182 §2.1)', () => {
    const set = parseSequenceSet('$');
    expect(set.saved).toBe(true);
    expect(set.toString()).toBe('$');
    expect(() => set.resolve(10)).toThrow(SequenceSetError);
  });

  it('accepts the largest nz-number', () => {
    expect(parseSequenceSet(`1:${MAX_NZ_NUMBER}`).resolve(3)).toEqual([[1, MAX_NZ_NUMBER]]);
  });

  const invalid = ['', '0', '0:5', '1:0', '01', '4294967296', '99999999999999999999', '1,', ',1', '1,,2', '1:2:3', ':', '1:', ':*', 'a', '1 2', ' 1', '1.5', '-1', '$,1', '1,$', '$:3', '**', '1:*:2', '+1'];
  for (const text of invalid) {
    it(`refuses ${JSON.stringify(text)}`, () => {
      expect(() => parseSequenceSet(text)).toThrow(SequenceSetError);
    });
  }

  it('names the set in the error without control characters', () => {
    expect(() => parseSequenceSet('1,\r\n* BYE')).toThrow('Invalid sequence set 1,??*?BYE');
  });
});

describe('resolving', () => {
  it('replaces "*" by the largest number in use and swaps reversed ranges (RFC 9051 §9 seq-range)', () => {
    expect(parseSequenceSet('4:2').resolve(10)).toEqual([[2, 4]]);
    expect(parseSequenceSet('*').resolve(10)).toEqual([[10, 10]]);
    expect(parseSequenceSet('*:4').resolve(10)).toEqual([[4, 10]]);
    // a UID range 559:* includes the last UID even when that is below 559
    expect(parseSequenceSet('559:*').resolve(500)).toEqual([[500, 559]]);
  });

  it('sorts and merges overlapping and adjacent ranges', () => {
    expect(parseSequenceSet('9,1:3,2,4,7:8,20:15,*').resolve(30)).toEqual([
      [1, 4],
      [7, 9],
      [15, 20],
      [30, 30]
    ]);
  });

  it('selects nothing for "*" in an empty mailbox', () => {
    expect(parseSequenceSet('*').resolve(0)).toEqual([]);
    expect(parseSequenceSet('1:*').resolve(0)).toEqual([[1, 1]]);
    expect(parseSequenceSet('1:*').resolve(0, true)).toEqual([]);
  });

  it('keeps numbers above max unless asked to clamp', () => {
    const set = parseSequenceSet('2:8,12');
    expect(set.resolve(5)).toEqual([
      [2, 8],
      [12, 12]
    ]);
    expect(set.resolve(5, true)).toEqual([[2, 5]]);
  });

  it('returns a fresh array each time', () => {
    const set = parseSequenceSet('1:3');
    set.resolve(5)[0][1] = 99;
    expect(set.resolve(5)).toEqual([[1, 3]]);
  });
});

describe('membership and iteration', () => {
  const set = parseSequenceSet('1,3:5,10:*');

  it('tests membership with "*" as max', () => {
    expect([1, 2, 3, 5, 6, 9, 10, 12, 13].map((n) => set.includes(n, 12))).toEqual([true, false, true, true, false, false, true, true, false]);
    expect(set.includes(11, 8)).toBe(false);
    expect(set.includes(9, 8)).toBe(true); // 10:* with max 8 is 8:10
  });

  it('iterates and counts the numbers from 1 to max', () => {
    expect([...set.values(12)]).toEqual([1, 3, 4, 5, 10, 11, 12]);
    expect(set.count(12)).toBe(7);
    expect([...parseSequenceSet('5:1,3').values(3)]).toEqual([1, 2, 3]);
  });
});

describe('compact sets', () => {
  it('writes runs as ranges', () => {
    expect(compactSet([1, 2, 3, 5, 7, 8, 9, 10, 20])).toBe('1:3,5,7:10,20');
    expect(compactSet([42])).toBe('42');
    expect(compactSet([])).toBe('');
  });

  it('keeps the order given (COPYUID pairs by position) and writes repeats once', () => {
    expect(compactSet([5, 6, 1, 2, 2, 3])).toBe('5:6,1:3');
  });

  it('round-trips through parsing', () => {
    const numbers = [1, 2, 3, 8, 10, 11, 4_000_000_000, MAX_NZ_NUMBER];
    const text = compactSet(numbers);
    expect([...parseSequenceSet(text).values(MAX_NZ_NUMBER)].length).toBe(numbers.length);
    expect(parseSequenceSet(text).resolve(MAX_NZ_NUMBER)).toEqual([
      [1, 3],
      [8, 8],
      [10, 11],
      [4_000_000_000, 4_000_000_000],
      [MAX_NZ_NUMBER, MAX_NZ_NUMBER]
    ]);
  });

  it('writes resolved ranges', () => {
    expect(rangesToSet(parseSequenceSet('5,1:3,4').resolve(9))).toBe('1:5');
    expect(rangesToSet([[7, 7], [9, 12]])).toBe('7,9:12');
  });
});

describe('hostile huge sets', () => {
  it(`refuses more than ${MAX_SEQUENCE_PARTS} parts before parsing them`, () => {
    const text = Array.from({ length: MAX_SEQUENCE_PARTS + 1 }, (_, i) => `${2 * i + 1}`).join(',');
    expect(() => parseSequenceSet(text)).toThrow(`Sequence set has more than ${MAX_SEQUENCE_PARTS} parts`);
    // its first part is empty, so parsing any part first would end in "Invalid sequence set": the count comes first
    expect(() => parseSequenceSet(',1'.repeat(5_000_000))).toThrow(new SequenceSetError(`Sequence set has more than ${MAX_SEQUENCE_PARTS} parts`));
  });

  it(`resolves ${MAX_SEQUENCE_PARTS} scattered parts once and answers membership by binary search`, () => {
    const text = Array.from({ length: MAX_SEQUENCE_PARTS }, (_, i) => `${(MAX_SEQUENCE_PARTS - i) * 3}:${(MAX_SEQUENCE_PARTS - i) * 3 + 1}`).join(',');
    // the parts as parsed, behind getters that count how often the set reads them (resolving reads each a few times)
    let partReads = 0;
    const parts = parseSequenceSet(text).ranges.map((r) => ({
      get start() {
        partReads++;
        return r.start;
      },
      get end() {
        partReads++;
        return r.end;
      }
    }));
    const set = new SequenceSet(parts);
    const n = comparisonCounter();
    // at most two comparisons per halving of the 10,000 resolved ranges; a scan would make thousands per number
    const perLookup = 2 * Math.ceil(Math.log2(MAX_SEQUENCE_PARTS + 1));
    let hits = 0;
    for (let from = 1; from <= 100_000; from += 1_000) {
      for (let k = from; k < from + 1_000; k++) if (set.includes(n.of(k), 1_000_000)) hits++;
      // checked every 1,000 lookups, so a regression fails at once instead of running 10^9 steps
      expect(n.count).toBeLessThanOrEqual((from + 999) * perLookup);
      expect(partReads).toBeLessThanOrEqual(4 * MAX_SEQUENCE_PARTS);
    }
    expect(hits).toBe(2 * Math.floor(30_000 / 3));
    expect(set.resolve(1_000_000)).toHaveLength(MAX_SEQUENCE_PARTS);
  });

  it('1:4294967295 stays one range: counted, never expanded', () => {
    const set = parseSequenceSet(`1:${MAX_NZ_NUMBER},*:1,5`);
    expect(set.resolve(MAX_NZ_NUMBER)).toEqual([[1, MAX_NZ_NUMBER]]);
    expect(set.count(MAX_NZ_NUMBER)).toBe(MAX_NZ_NUMBER);
    expect(set.count(10)).toBe(10);
    const first = [];
    for (const n of set.values(MAX_NZ_NUMBER)) {
      first.push(n);
      if (first.length === 3) break;
    }
    expect(first).toEqual([1, 2, 3]);
  });

  it('refuses a single part of a million digits', () => {
    const digits = '9'.repeat(1_000_000);
    expect(() => parseSequenceSet(digits)).toThrow(new SequenceSetError(`Invalid sequence set ${'9'.repeat(40)}`));
    expect(() => parseSequenceSet(`1:${digits}`)).toThrow(new SequenceSetError(`Invalid sequence set 1:${'9'.repeat(38)}`));
  });
});
