// Tests for the SEARCH criteria parser (server/imap/search-keys.ts), including hostile nesting and key counts.
import { describe, expect, it } from 'vitest';
import type { ImapValue } from '../../server/imap/parser.js';
import {
  MAX_SEARCH_DEPTH,
  MAX_SEARCH_KEYS,
  parseSearchKeys,
  SearchKeyError,
  usesModseq,
  usesSavedResult,
  type SearchKey
} from '../../server/imap/search-keys.js';
import { values } from '../helpers/imap-test-values.js';


const parse = (text: string, charset?: string): SearchKey => parseSearchKeys(values(text), charset);

function failure(fn: () => unknown): SearchKeyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SearchKeyError);
    return err as SearchKeyError;
  }
  throw new Error('expected a SearchKeyError');
}

const seen = { kind: 'flag', flag: '\\Seen' } as const;

describe('search keys of RFC 3501 / RFC 9051 §6.4.4', () => {
  it.each<[string, SearchKey]>([
    ['ALL', { kind: 'all' }],
    ['ANSWERED', { kind: 'flag', flag: '\\Answered' }],
    ['deleted', { kind: 'flag', flag: '\\Deleted' }],
    ['DRAFT', { kind: 'flag', flag: '\\Draft' }],
    ['Flagged', { kind: 'flag', flag: '\\Flagged' }],
    ['SEEN', seen],
    ['UNANSWERED', { kind: 'not', key: { kind: 'flag', flag: '\\Answered' } }],
    ['UNDELETED', { kind: 'not', key: { kind: 'flag', flag: '\\Deleted' } }],
    ['UNDRAFT', { kind: 'not', key: { kind: 'flag', flag: '\\Draft' } }],
    ['UNFLAGGED', { kind: 'not', key: { kind: 'flag', flag: '\\Flagged' } }],
    ['UNSEEN', { kind: 'not', key: seen }],
    ['RECENT', { kind: 'recent' }],
    ['NEW', { kind: 'and', keys: [{ kind: 'recent' }, { kind: 'not', key: seen }] }],
    ['OLD', { kind: 'not', key: { kind: 'recent' } }],
    ['KEYWORD $Forwarded', { kind: 'flag', flag: '$Forwarded' }],
    ['UNKEYWORD Junk', { kind: 'not', key: { kind: 'flag', flag: 'Junk' } }],
    ['FROM alice', { kind: 'field', field: 'from', value: 'alice' }],
    ['TO "Bob B"', { kind: 'field', field: 'to', value: 'Bob B' }],
    ['CC carol', { kind: 'field', field: 'cc', value: 'carol' }],
    ['BCC dave', { kind: 'field', field: 'bcc', value: 'dave' }],
    ['SUBJECT "Größe"', { kind: 'field', field: 'subject', value: 'Größe' }],
    ['BODY "quarterly numbers"', { kind: 'text', scope: 'body', value: 'quarterly numbers' }],
    ['TEXT ""', { kind: 'text', scope: 'text', value: '' }],
    ['HEADER X-Priority 1', { kind: 'header', name: 'X-Priority', value: '1' }],
    ['HEADER "List-Id" ""', { kind: 'header', name: 'List-Id', value: '' }],
    ['LARGER 1000', { kind: 'size', op: 'larger', octets: 1000 }],
    ['SMALLER 0', { kind: 'size', op: 'smaller', octets: 0 }],
    ['BEFORE 1-Feb-2024', { kind: 'date', field: 'internal', op: 'before', day: Date.UTC(2024, 1, 1) }],
    ['ON 01-FEB-2024', { kind: 'date', field: 'internal', op: 'on', day: Date.UTC(2024, 1, 1) }],
    ['SINCE "29-feb-2024"', { kind: 'date', field: 'internal', op: 'since', day: Date.UTC(2024, 1, 29) }],
    ['SENTBEFORE 31-Dec-1999', { kind: 'date', field: 'sent', op: 'before', day: Date.UTC(1999, 11, 31) }],
    ['SENTON 1-Jan-2024', { kind: 'date', field: 'sent', op: 'on', day: Date.UTC(2024, 0, 1) }],
    ['SENTSINCE 15-Jul-2025', { kind: 'date', field: 'sent', op: 'since', day: Date.UTC(2025, 6, 15) }],
    ['1:3,5,7:*', { kind: 'seq', set: '1:3,5,7:*' }],
    ['*', { kind: 'seq', set: '*' }],
    ['UID 10:20', { kind: 'uid', set: '10:20' }],
    ['$', { kind: 'saved' }],
    ['UID $', { kind: 'saved' }],
    ['MODSEQ 620162338', { kind: 'modseq', modseq: 620162338, entry: null }],
    ['MODSEQ "/flags/\\\\Draft" all 0', { kind: 'modseq', modseq: 0, entry: { name: '/flags/\\Draft', type: 'all' } }],
    ['MODSEQ "/flags/$Junk" PRIV 5', { kind: 'modseq', modseq: 5, entry: { name: '/flags/$Junk', type: 'priv' } }]
  ])('%s', (text, expected) => {
    expect(parse(text)).toEqual(expected);
  });

  it('treats several keys and parenthesized lists as AND', () => {
    expect(parse('SEEN (FROM a TO b) UNDELETED')).toEqual({
      kind: 'and',
      keys: [seen, { kind: 'and', keys: [{ kind: 'field', field: 'from', value: 'a' }, { kind: 'field', field: 'to', value: 'b' }] }, { kind: 'not', key: { kind: 'flag', flag: '\\Deleted' } }]
    });
    expect(parse('(SEEN)')).toEqual(seen);
  });

  it('reads OR and NOT as prefix operators taking one key each', () => {
    expect(parse('OR SEEN NOT FLAGGED DRAFT')).toEqual({
      kind: 'and',
      keys: [{ kind: 'or', left: seen, right: { kind: 'not', key: { kind: 'flag', flag: '\\Flagged' } } }, { kind: 'flag', flag: '\\Draft' }]
    });
    expect(parse('OR OR FROM x TO x (SUBJECT x)')).toEqual({
      kind: 'or',
      left: { kind: 'or', left: { kind: 'field', field: 'from', value: 'x' }, right: { kind: 'field', field: 'to', value: 'x' } },
      right: { kind: 'field', field: 'subject', value: 'x' }
    });
  });

  it('takes strings from literals, as UTF-8', () => {
    const args: ImapValue[] = [{ type: 'atom', value: 'TEXT' }, { type: 'string', value: Buffer.from('Grüße "x"', 'utf8'), literal: true }];
    expect(parseSearchKeys(args)).toEqual({ kind: 'text', scope: 'text', value: 'Grüße "x"' });
  });

  it('reads NIL where a string is expected as the text NIL (astring)', () => {
    expect(parseSearchKeys([{ type: 'atom', value: 'SUBJECT' }, { type: 'nil' }])).toEqual({ kind: 'field', field: 'subject', value: 'NIL' });
  });

  it('reports MODSEQ and "$" use for the session', () => {
    expect(usesModseq(parse('OR SEEN (NOT MODSEQ 5)'))).toBe(true);
    expect(usesModseq(parse('SEEN'))).toBe(false);
    expect(usesSavedResult(parse('NOT (UID $)'))).toBe(true);
    expect(usesSavedResult(parse('UID 1:*'))).toBe(false);
  });
});

describe('CHARSET', () => {
  it.each(['CHARSET UTF-8 SEEN', 'CHARSET us-ascii SEEN', 'CHARSET "utf-8" SEEN'])('accepts %s', (text) => {
    expect(parse(text)).toEqual(seen);
  });

  it('accepts the charset taken off by the session', () => {
    expect(parse('SEEN', 'UTF-8')).toEqual(seen);
  });

  it('refuses other charsets with badCharset set (NO [BADCHARSET])', () => {
    const err = failure(() => parse('CHARSET ISO-8859-1 TEXT x'));
    expect(err.badCharset).toBe(true);
    expect(failure(() => parse('TEXT x', 'KOI8-R')).badCharset).toBe(true);
  });

  it('refuses CHARSET anywhere but first, or twice, as bad syntax', () => {
    expect(failure(() => parse('SEEN CHARSET UTF-8')).badCharset).toBe(false);
    expect(failure(() => parse('CHARSET UTF-8 SEEN', 'UTF-8')).badCharset).toBe(false);
    expect(failure(() => parse('CHARSET')).badCharset).toBe(false);
  });
});

describe('malformed search programs (BAD)', () => {
  it.each([
    '',
    'FOO',
    'FROM',
    'HEADER Subject',
    'HEADER "" x',
    'OR SEEN',
    'NOT',
    'LARGER',
    'LARGER -1',
    'LARGER 1k',
    'SMALLER 99999999999999999999',
    'BEFORE 2024-02-01',
    'BEFORE 1-Foo-2024',
    'ON 31-Feb-2024',
    'SINCE 0-Jan-2024',
    'SINCE 1-Jan-24',
    'KEYWORD "two words"',
    'KEYWORD',
    '0',
    '1:0',
    '1::2',
    '1,,2',
    '1:',
    '4294967296',
    '$,1',
    'UID',
    'UID x',
    'UID (1)',
    'MODSEQ',
    'MODSEQ abc',
    'MODSEQ 9223372036854775808',
    'MODSEQ "/flags/\\\\Seen" none 5',
    'MODSEQ "/other/x" all 5',
    '()',
    'SEEN ()'
  ])('%j', (text) => {
    expect(failure(() => parse(text)).badCharset).toBe(false);
  });

  it('refuses NIL, atoms with sections and strings that are not UTF-8', () => {
    failure(() => parseSearchKeys([{ type: 'nil' }]));
    failure(() => parseSearchKeys([{ type: 'atom', value: 'BODY', section: [] }, { type: 'atom', value: 'x' }]));
    failure(() => parseSearchKeys([{ type: 'atom', value: 'TEXT' }, { type: 'string', value: Buffer.from([0x47, 0xfc, 0x6e]), literal: false }]));
  });
});

describe('hostile nesting and key counts', () => {
  it('stops a chain of 100 000 NOTs without exhausting the stack', () => {
    const args: ImapValue[] = Array.from({ length: 100_000 }, () => ({ type: 'atom', value: 'NOT' }) as ImapValue);
    args.push({ type: 'atom', value: 'SEEN' });
    expect(failure(() => parseSearchKeys(args)).message).toMatch(/nested too deeply/);
  });

  it('stops deeply nested parenthesized lists', () => {
    let value: ImapValue = { type: 'atom', value: 'SEEN' };
    for (let i = 0; i < 10_000; i++) value = { type: 'list', items: [value] };
    expect(failure(() => parseSearchKeys([value])).message).toMatch(/nested too deeply/);
  });

  it('stops a left-nested OR chain past the limit but accepts one within it', () => {
    const chain = (n: number) => `${'OR '.repeat(n)}SEEN ${Array.from({ length: n }, (_, i) => `KEYWORD k${i}`).join(' ')}`;
    expect(parse(chain(MAX_SEARCH_DEPTH - 1)).kind).toBe('or');
    failure(() => parse(chain(MAX_SEARCH_DEPTH)));
  });

  it(`accepts ${MAX_SEARCH_KEYS} keys and refuses one more`, () => {
    const many = (n: number) => Array.from({ length: n }, () => 'SEEN').join(' ');
    expect(parse(many(MAX_SEARCH_KEYS))).toMatchObject({ kind: 'and' });
    expect(failure(() => parse(many(MAX_SEARCH_KEYS + 1))).message).toMatch(/Too many/);
    expect(failure(() => parse(`(${many(MAX_SEARCH_KEYS)})`)).message).toMatch(/Too many/); // the list counts too
  });
});
