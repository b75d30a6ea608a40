// SEARCH criteria (RFC 9051 §6.4.4, RFC 3501 §6.4.4, MODSEQ from RFC 7162 §3.1.5, "$" from RFC 5182) parsed into a typed tree.
import { isUtf8 } from 'node:buffer';
import type { ImapValue } from './parser.js';
import type { UidRanges } from '../store/mailbox-messages.js';

/**
 * One search criterion. Several keys side by side (and a parenthesized list) mean AND. Keys that RFC 9051 defines
 * through others are rewritten: UNSEEN = NOT SEEN, NEW = RECENT UNSEEN, OLD = NOT RECENT, UNKEYWORD x = NOT KEYWORD x.
 */
export type SearchKey =
  | { kind: 'all' }
  | { kind: 'and'; keys: SearchKey[] }
  | { kind: 'or'; left: SearchKey; right: SearchKey }
  | { kind: 'not'; key: SearchKey }
  /** \Recent (RFC 3501); Postfach keeps no \Recent, so this matches nothing */
  | { kind: 'recent' }
  /** a system flag in canonical case ("\Seen") or a keyword as written; compared case-insensitively */
  | { kind: 'flag'; flag: string }
  /** BEFORE/ON/SINCE (internal date) and SENTBEFORE/SENTON/SENTSINCE (Date: field); day = UTC midnight in ms */
  | { kind: 'date'; field: 'internal' | 'sent'; op: 'before' | 'on' | 'since'; day: number }
  /** LARGER (size > octets) and SMALLER (size < octets), RFC 822 size */
  | { kind: 'size'; op: 'larger' | 'smaller'; octets: number }
  /** FROM/TO/CC/BCC/SUBJECT: case-insensitive substring of the decoded field */
  | { kind: 'field'; field: 'from' | 'to' | 'cc' | 'bcc' | 'subject'; value: string }
  /** HEADER name value; an empty value means "has the field" (RFC 9051 §6.4.4) */
  | { kind: 'header'; name: string; value: string }
  /** TEXT (header and body) and BODY (body only) */
  | { kind: 'text'; scope: 'text' | 'body'; value: string }
  /** MODSEQ (RFC 7162 §3.1.5): modseq >= value; the entry is accepted and ignored (no per-flag modseqs here) */
  | { kind: 'modseq'; modseq: number; entry: { name: string; type: 'priv' | 'shared' | 'all' } | null }
  /** a sequence set by message number, unresolved ("1:3,7,*") */
  | { kind: 'seq'; set: string }
  /** UID <sequence set>, unresolved */
  | { kind: 'uid'; set: string }
  /** "$" alone or after UID: the saved search result (RFC 5182) */
  | { kind: 'saved' };

/** The keys that name messages by number or UID; the session resolves them when the store asks. */
export type SetKey = Extract<SearchKey, { kind: 'seq' | 'uid' | 'saved' }>;

/** How the store turns set keys into UID ranges (the session knows the sequence-number map and the saved result). */
export interface SetResolver {
  seq(set: string): UidRanges;
  uid(set: string): UidRanges;
  /** the saved result for "$"; when absent the store asks uid("$") */
  saved?(): UidRanges;
}

/** A malformed search program (the session answers BAD) or an unsupported charset (NO [BADCHARSET (UTF-8 US-ASCII)]). */
export class SearchKeyError extends Error {
  constructor(
    message: string,
    readonly badCharset = false
  ) {
    super(message);
    this.name = 'SearchKeyError';
  }
}

/** Charsets SEARCH accepts; both are read as UTF-8, since clients often declare US-ASCII for UTF-8 text. */
export const SEARCH_CHARSETS = ['UTF-8', 'US-ASCII'] as const;

// Hostile input: the command parser bounds parenthesized lists, but NOT and OR nest without parentheses.
// Depth 64 leaves room for clients that chain OR over many addresses ("OR OR OR … a b c d") and keeps both the
// recursion here and the SQL expression tree (SQLite's limit is 1000) small.
export const MAX_SEARCH_DEPTH = 64;
export const MAX_SEARCH_KEYS = 1000; // every key, NOT, OR and list counts; real clients send a few dozen at most

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const MAX_MODSEQ = 2n ** 63n - 1n; // RFC 7162 §7 mod-sequence-value
const MAX_NUMBER64 = 2n ** 63n - 1n; // RFC 9051 §9 number64
const MAX_NZ_NUMBER = 4294967295; // RFC 9051 §9 nz-number

const FLAG_KEYS: Record<string, string> = {
  ANSWERED: '\\Answered',
  DELETED: '\\Deleted',
  DRAFT: '\\Draft',
  FLAGGED: '\\Flagged',
  SEEN: '\\Seen'
};
const UNFLAG_KEYS: Record<string, string> = {
  UNANSWERED: '\\Answered',
  UNDELETED: '\\Deleted',
  UNDRAFT: '\\Draft',
  UNFLAGGED: '\\Flagged',
  UNSEEN: '\\Seen'
};
const FIELD_KEYS: Record<string, 'from' | 'to' | 'cc' | 'bcc' | 'subject'> = {
  FROM: 'from',
  TO: 'to',
  CC: 'cc',
  BCC: 'bcc',
  SUBJECT: 'subject'
};
const DATE_KEYS: Record<string, { field: 'internal' | 'sent'; op: 'before' | 'on' | 'since' }> = {
  BEFORE: { field: 'internal', op: 'before' },
  ON: { field: 'internal', op: 'on' },
  SINCE: { field: 'internal', op: 'since' },
  SENTBEFORE: { field: 'sent', op: 'before' },
  SENTON: { field: 'sent', op: 'on' },
  SENTSINCE: { field: 'sent', op: 'since' }
};

class Cursor {
  private pos = 0;
  constructor(private readonly items: ImapValue[]) {}
  get done(): boolean {
    return this.pos >= this.items.length;
  }
  next(): ImapValue | undefined {
    return this.items[this.pos++];
  }
  peek(): ImapValue | undefined {
    return this.items[this.pos];
  }
}

/**
 * Parses the search program that follows SEARCH (after any RETURN options). A leading "CHARSET x" is accepted here
 * unless the session already took it off and passes it as `charset`.
 */
export function parseSearchKeys(args: ImapValue[], charset?: string): SearchKey {
  const cursor = new Cursor(args);
  const first = cursor.peek();
  if (first?.type === 'atom' && !first.section && first.value.toUpperCase() === 'CHARSET') {
    if (charset !== undefined) throw new SearchKeyError('CHARSET given twice');
    cursor.next();
    charset = stringArg(cursor, 'a charset name');
  }
  if (charset !== undefined) checkCharset(charset); // RFC 9051 §6.4.4: unknown charset is NO [BADCHARSET], not BAD
  if (cursor.done) throw new SearchKeyError('SEARCH needs at least one search key');
  const count = { keys: 0 };
  const keys: SearchKey[] = [];
  while (!cursor.done) keys.push(parseKey(cursor, count, 1));
  return keys.length === 1 ? keys[0]! : { kind: 'and', keys };
}

function checkCharset(charset: string): void {
  const upper = charset.toUpperCase();
  if (!(SEARCH_CHARSETS as readonly string[]).includes(upper)) {
    throw new SearchKeyError(`Charset ${charset.slice(0, 40)} is not supported`, true);
  }
}

function parseKey(cursor: Cursor, count: { keys: number }, depth: number): SearchKey {
  if (depth > MAX_SEARCH_DEPTH) throw new SearchKeyError('Search keys nested too deeply');
  if (++count.keys > MAX_SEARCH_KEYS) throw new SearchKeyError('Too many search keys');
  const value = cursor.next();
  if (!value) throw new SearchKeyError('Missing search key');
  if (value.type === 'list') {
    if (!value.items.length) throw new SearchKeyError('Empty parenthesized search key list');
    const inner = new Cursor(value.items);
    const keys: SearchKey[] = [];
    while (!inner.done) keys.push(parseKey(inner, count, depth + 1));
    return keys.length === 1 ? keys[0]! : { kind: 'and', keys };
  }
  if (value.type !== 'atom' || value.section || value.partial) throw new SearchKeyError('Expected a search key');
  const word = value.value;
  if (/^[0-9*$]/.test(word)) return sequenceKey(word, 'seq');
  const name = word.toUpperCase();
  const flag = FLAG_KEYS[name];
  if (flag) return { kind: 'flag', flag };
  const unflag = UNFLAG_KEYS[name];
  if (unflag) return { kind: 'not', key: { kind: 'flag', flag: unflag } };
  const field = FIELD_KEYS[name];
  if (field) return { kind: 'field', field, value: stringArg(cursor, `a string after ${name}`) };
  const date = DATE_KEYS[name];
  if (date) return { kind: 'date', ...date, day: dateArg(cursor, name) };
  switch (name) {
    case 'ALL':
      return { kind: 'all' };
    case 'RECENT':
      return { kind: 'recent' };
    case 'NEW': // RFC 3501: RECENT UNSEEN
      return { kind: 'and', keys: [{ kind: 'recent' }, { kind: 'not', key: { kind: 'flag', flag: '\\Seen' } }] };
    case 'OLD': // RFC 3501: NOT RECENT
      return { kind: 'not', key: { kind: 'recent' } };
    case 'KEYWORD':
      return { kind: 'flag', flag: keywordArg(cursor) };
    case 'UNKEYWORD':
      return { kind: 'not', key: { kind: 'flag', flag: keywordArg(cursor) } };
    case 'LARGER':
      return { kind: 'size', op: 'larger', octets: numberArg(cursor, 'a size after LARGER', MAX_NUMBER64) };
    case 'SMALLER':
      return { kind: 'size', op: 'smaller', octets: numberArg(cursor, 'a size after SMALLER', MAX_NUMBER64) };
    case 'HEADER': {
      const fieldName = stringArg(cursor, 'a header field name after HEADER');
      if (!fieldName) throw new SearchKeyError('HEADER needs a field name');
      return { kind: 'header', name: fieldName, value: stringArg(cursor, 'a string after HEADER field name') };
    }
    case 'BODY':
      return { kind: 'text', scope: 'body', value: stringArg(cursor, 'a string after BODY') };
    case 'TEXT':
      return { kind: 'text', scope: 'text', value: stringArg(cursor, 'a string after TEXT') };
    case 'NOT':
      return { kind: 'not', key: parseKey(cursor, count, depth + 1) };
    case 'OR': {
      const left = parseKey(cursor, count, depth + 1);
      return { kind: 'or', left, right: parseKey(cursor, count, depth + 1) };
    }
    case 'UID': {
      const set = cursor.next();
      if (set?.type !== 'atom' || set.section || set.partial) throw new SearchKeyError('Expected a UID set after UID');
      return sequenceKey(set.value, 'uid');
    }
    case 'MODSEQ':
      return modseqKey(cursor);
    default:
      throw new SearchKeyError(`Unknown search key ${word.slice(0, 40)}`);
  }
}

/** sequence-set (RFC 9051 §9): checked here so that a malformed set is BAD before any store work; "$" per RFC 5182. */
function sequenceKey(text: string, kind: 'seq' | 'uid'): SearchKey {
  if (text === '$') return { kind: 'saved' };
  for (const item of text.split(',')) {
    const bounds = item.split(':');
    if (bounds.length > 2 || !bounds.every(isSeqNumber)) throw new SearchKeyError(`Invalid sequence set ${text.slice(0, 40)}`);
  }
  return { kind, set: text };
}

function isSeqNumber(text: string): boolean {
  if (text === '*') return true;
  return /^[1-9][0-9]{0,9}$/.test(text) && Number(text) <= MAX_NZ_NUMBER;
}

/** astring (RFC 9051 §9), decoded as UTF-8. */
function stringArg(cursor: Cursor, what: string): string {
  const value = cursor.next();
  if (value?.type === 'atom' && !value.section && !value.partial) return value.value;
  if (value?.type === 'nil') return 'NIL'; // an astring may be the atom NIL, which a parser may have taken for nil
  if (value?.type === 'string') {
    if (!isUtf8(value.value)) throw new SearchKeyError('Search string is not valid UTF-8');
    return value.value.toString('utf8');
  }
  throw new SearchKeyError(`Expected ${what}`);
}

/** flag-keyword (RFC 9051 §9 atom); a quoted keyword is tolerated, whitespace is not (it could never be stored). */
function keywordArg(cursor: Cursor): string {
  const keyword = stringArg(cursor, 'a keyword');
  if (!/^[^\s\x00-\x1f\x7f]+$/u.test(keyword)) throw new SearchKeyError('Invalid keyword');
  return keyword;
}

function numberArg(cursor: Cursor, what: string, max: bigint): number {
  const value = cursor.next();
  const text = value?.type === 'atom' && !value.section ? value.value : '';
  if (!/^[0-9]{1,20}$/.test(text) || BigInt(text) > max) throw new SearchKeyError(`Expected ${what}`);
  return Number(text); // beyond 2^53 precision is lost, but no size or modseq here comes near that
}

/** date = date-text / DQUOTE date-text DQUOTE; date-text = 1*2DIGIT "-" month "-" 4DIGIT (RFC 9051 §9). */
function dateArg(cursor: Cursor, key: string): number {
  const value = cursor.next();
  const text = value?.type === 'atom' && !value.section ? value.value : value?.type === 'string' ? value.value.toString('latin1') : '';
  const m = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/.exec(text);
  const month = m ? MONTHS.indexOf(m[2]!.toLowerCase()) : -1;
  if (!m || month === -1) throw new SearchKeyError(`Expected a date like 1-Feb-2024 after ${key}`);
  const day = Number(m[1]);
  const year = Number(m[3]);
  const ms = Date.UTC(year, month, day);
  if (day < 1 || new Date(ms).getUTCDate() !== day) throw new SearchKeyError(`Invalid date ${text}`);
  return ms;
}

/** MODSEQ [entry-name entry-type-req] mod-sequence-valzer (RFC 7162 §3.1.5, §7). */
function modseqKey(cursor: Cursor): SearchKey {
  let entry: { name: string; type: 'priv' | 'shared' | 'all' } | null = null;
  const next = cursor.peek();
  if (next?.type === 'string') {
    cursor.next();
    const name = next.value.toString('utf8');
    if (!name.toLowerCase().startsWith('/flags/') || name.length === 7) throw new SearchKeyError('MODSEQ entry name must be /flags/<flag>');
    const typeValue = cursor.next();
    const type = typeValue?.type === 'atom' ? typeValue.value.toLowerCase() : '';
    if (type !== 'priv' && type !== 'shared' && type !== 'all') throw new SearchKeyError('MODSEQ entry type must be priv, shared or all');
    entry = { name, type };
  }
  return { kind: 'modseq', modseq: numberArg(cursor, 'a mod-sequence after MODSEQ', MAX_MODSEQ), entry };
}

/** Whether any key satisfies the test (iterative: the tree is bounded, but no recursion is needed). */
export function someKey(root: SearchKey, test: (key: SearchKey) => boolean): boolean {
  const pending: SearchKey[] = [root];
  while (pending.length) {
    const key = pending.pop()!;
    if (test(key)) return true;
    if (key.kind === 'and') pending.push(...key.keys);
    else if (key.kind === 'or') pending.push(key.left, key.right);
    else if (key.kind === 'not') pending.push(key.key);
  }
  return false;
}

/** RFC 7162 §3.1.5: a MODSEQ key makes the response carry the highest modseq (and enables CONDSTORE, §3.1). */
export const usesModseq = (key: SearchKey): boolean => someKey(key, (k) => k.kind === 'modseq');

/** RFC 5182 §2.1: a command that reads "$" must wait for a preceding SEARCH ... RETURN (SAVE) to finish. */
export const usesSavedResult = (key: SearchKey): boolean => someKey(key, (k) => k.kind === 'saved');
