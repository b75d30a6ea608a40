// IMAP SEARCH in one folder (RFC 9051 §6.4.4): the criteria compiled to one SQL query over messages, TEXT/BODY through
// the trigram full-text index, and the few criteria SQL cannot decide checked against the stored message.
//
// How each key is decided:
// - flags and keywords: word match in the space-separated flags column, ASCII case-insensitive (flags are atoms);
//   instr() on ' flag ' needs no LIKE wildcard escaping
// - BEFORE/ON/SINCE (internal date) and SENT* (Date: field) by UTC day. Simplification: RFC 9051 says "disregarding
//   time and timezone", i.e. the day in the date's own zone, but only UTC ms are stored; INTERNALDATE is also shown
//   in +0000, so what a client sees and what it searches agree. Without a usable Date: field the internal date counts
//   as the sent date (as RFC 5256 §2.2 does for SORT), which also keeps SQL free of NULLs (NOT stays a complement).
// - FROM/TO/CC/BCC/SUBJECT: substring of the decoded field. SQLite's lower() folds ASCII only, so an ASCII string is
//   decided in SQL and a string with other letters (Größe) is narrowed by its ASCII runs in SQL and decided in JS
//   (NFC + toLowerCase on both sides).
// - TEXT/BODY of 3 or more characters: the trigram index (case-insensitive for Unicode), as one quoted FTS5 phrase
//   with a column filter, so no user input is read as FTS syntax. Shorter strings cannot be found by trigrams:
//   those messages' blobs are read and the same extracted text (search-text.ts) is searched in JS.
// - HEADER: narrowed by the index ("name:" and the value among the header lines), decided on the parsed header block.
// - sequence sets: UID ranges in SQL; many small ranges (a long "$") are checked in JS within their span.
// NOT/OR/AND compose: every part has a lower bound (SQL sure to match) and an upper bound (SQL that may match); the
// query selects the upper bound of the whole program, and rows are decided in JS only when some part is inexact.
import { sql, type RawBuilder } from 'kysely';
import type { Tx } from '../db/transaction.js';
import type { SearchKey, SetResolver } from '../imap/search-keys.js';
import { uidRangeTest, type UidRanges } from './mailbox-messages.js';
import { parseMessage, type HeaderField, type MimePart } from './mime.js';
import { decodeHeaderText, extractSearchFields, type SearchFields } from './search-text.js';

export interface SearchResult {
  /** matching UIDs, ascending */
  uids: number[];
  /** modseq of each match, parallel to uids (for a session that drops UIDs it has not announced yet) */
  modseqs: number[];
  /** highest modseq among the matches, 0 when nothing matches (RFC 7162 §3.1.5) */
  highestModseq: number;
}

const DAY = 86_400_000;
const TRIGRAM = 3; // the trigram tokenizer finds substrings of at least 3 characters
// UID ranges written into the SQL; a longer set (a saved result of scattered UIDs) is checked in JS instead, which
// keeps the statement and its parse tree small whatever a client sends.
const MAX_RANGES_PER_SET = 64;
const MAX_RANGES_PER_QUERY = 512;

const FIELD_COLUMNS = { from: 'from_addr', to: 'to_addr', cc: 'cc_addr', bcc: 'bcc_addr', subject: 'subject' } as const;

type Cond = boolean | RawBuilder<unknown>;

interface Row {
  uid: number;
  modseq: number;
  blob_id: string;
  subject: string;
  from_addr: string;
  to_addr: string;
  cc_addr: string;
  bcc_addr: string;
  [column: string]: unknown;
}

type RowTest = (row: Row, text: StoredText) => boolean | Promise<boolean>;

/** Cost of deciding a part for one row: 0 a selected SQL column, 1 JS on selected columns, 2 reading the blob. */
type Plan =
  | { type: 'sql'; cond: Cond }
  | { type: 'and' | 'or'; parts: Plan[]; lower: Cond; upper: Cond; cost: number }
  | { type: 'not'; part: Plan; lower: Cond; upper: Cond; cost: number }
  | { type: 'check'; upper: Cond; test: RowTest; cost: number };

interface Compiler {
  resolve: SetResolver;
  sqlRanges: number;
}

export async function searchMailbox(
  tx: Tx,
  mailboxId: number,
  key: SearchKey,
  resolve: SetResolver,
  readBlob: (blobId: string) => Promise<Buffer>
): Promise<SearchResult> {
  const compiler: Compiler = { resolve, sqlRanges: 0 };
  const plan = compile(compiler, key);
  const where = upperOf(plan);
  if (where === false) return { uids: [], modseqs: [], highestModseq: 0 };

  const select: RawBuilder<unknown>[] = [sql`m.uid`, sql`m.modseq`];
  const columns = new Map<Plan, string>();
  if (plan.type !== 'sql') {
    select.push(sql`m.blob_id`, sql`m.subject`, sql`m.from_addr`, sql`m.to_addr`, sql`m.cc_addr`, sql`m.bcc_addr`);
    collectColumns(plan, columns);
    for (const [part, alias] of columns) select.push(sql`${part.type === 'sql' ? part.cond : upperOf(part)} AS ${sql.ref(alias)}`);
  }
  const filter = where === true ? sql`` : sql`AND ${where}`;
  const { rows } = await sql<Row>`SELECT ${sql.join(select)} FROM messages AS m
    WHERE ${drivenByText(key) ? sql`+m.mailbox_id` : sql`m.mailbox_id`} = ${mailboxId} ${filter} ORDER BY m.uid`.execute(tx);

  const uids: number[] = [];
  const modseqs: number[] = [];
  let highestModseq = 0;
  const text = plan.type === 'sql' ? null : new StoredText(readBlob);
  for (const row of rows) {
    if (text && !(await evaluate(plan, row, columns, text))) continue;
    uids.push(row.uid);
    modseqs.push(row.modseq);
    if (row.modseq > highestModseq) highestModseq = row.modseq;
  }
  return { uids, modseqs, highestModseq };
}

// ---- compiling keys ----

function compile(c: Compiler, key: SearchKey): Plan {
  switch (key.kind) {
    case 'all':
      return exact(true);
    case 'recent':
      return exact(false); // no \Recent in Postfach: NEW matches nothing, OLD everything
    case 'and':
      return combine('and', key.keys.map((k) => compile(c, k)));
    case 'or':
      return combine('or', [compile(c, key.left), compile(c, key.right)]);
    case 'not':
      return negate(compile(c, key.key));
    case 'flag': // RFC 9051 §2.3.2: flags are case-insensitive
      return exact(sql`instr(' ' || lower(m.flags) || ' ', ${` ${asciiLower(key.flag)} `}) > 0`);
    case 'date': {
      const column = key.field === 'internal' ? sql`m.internal_date` : sql`coalesce(m.sent_date, m.internal_date)`;
      if (key.op === 'before') return exact(sql`${column} < ${key.day}`);
      if (key.op === 'since') return exact(sql`${column} >= ${key.day}`);
      return exact(sql`(${column} >= ${key.day} AND ${column} < ${key.day + DAY})`);
    }
    case 'size':
      return exact(key.op === 'larger' ? sql`m.size > ${key.octets}` : sql`m.size < ${key.octets}`);
    case 'modseq': // RFC 7162 §3.1.5; per-flag entries are not kept, the message's modseq stands for all of them
      return exact(sql`m.modseq >= ${key.modseq}`);
    case 'field':
      return fieldPlan(FIELD_COLUMNS[key.field], key.value);
    case 'text':
      return textPlan(key.scope, key.value);
    case 'header':
      return headerPlan(key.name, key.value);
    case 'seq':
      return setPlan(c, c.resolve.seq(key.set));
    case 'uid':
      return setPlan(c, c.resolve.uid(key.set));
    case 'saved':
      return setPlan(c, c.resolve.saved ? c.resolve.saved() : c.resolve.uid('$'));
  }
}

const exact = (cond: Cond): Plan => ({ type: 'sql', cond });

function lowerOf(plan: Plan): Cond {
  if (plan.type === 'sql') return plan.cond;
  return plan.type === 'check' ? false : plan.lower;
}

function upperOf(plan: Plan): Cond {
  return plan.type === 'sql' ? plan.cond : plan.upper;
}

const costOf = (plan: Plan): number => (plan.type === 'sql' ? 0 : plan.cost);

function combine(op: 'and' | 'or', parts: Plan[]): Plan {
  const join = op === 'and' ? allOf : anyOf;
  const sure = join(parts.filter((p) => p.type === 'sql').map((p) => upperOf(p)));
  const open = parts.filter((p) => p.type !== 'sql').sort((a, b) => costOf(a) - costOf(b)); // cheap checks first
  if (!open.length || sure === (op === 'or')) return exact(sure); // nothing to check, or decided (FALSE AND x, TRUE OR x)
  const all = sure === (op === 'and') ? open : [exact(sure), ...open]; // TRUE in an AND, FALSE in an OR: dropped
  if (all.length === 1) return all[0]!;
  return { type: op, parts: all, lower: join(all.map(lowerOf)), upper: join(all.map(upperOf)), cost: Math.max(...all.map(costOf)) };
}

function negate(plan: Plan): Plan {
  if (plan.type === 'sql') return exact(not(plan.cond));
  if (plan.type === 'not') return plan.part;
  return { type: 'not', part: plan, lower: not(upperOf(plan)), upper: not(lowerOf(plan)), cost: plan.cost };
}

function allOf(conds: Cond[]): Cond {
  const parts: RawBuilder<unknown>[] = [];
  for (const cond of conds) {
    if (cond === false) return false;
    if (cond !== true) parts.push(cond);
  }
  return parts.length ? balanced(parts, 'AND') : true;
}

function anyOf(conds: Cond[]): Cond {
  const parts: RawBuilder<unknown>[] = [];
  for (const cond of conds) {
    if (cond === true) return true;
    if (cond !== false) parts.push(cond);
  }
  return parts.length ? balanced(parts, 'OR') : false;
}

/** a AND b AND c … as a balanced tree: SQLite parses a chain as a tree as deep as it is long (limit 1000). */
function balanced(parts: RawBuilder<unknown>[], op: 'AND' | 'OR'): RawBuilder<unknown> {
  if (parts.length === 1) return parts[0]!;
  const middle = parts.length >> 1;
  return sql`(${balanced(parts.slice(0, middle), op)} ${sql.raw(op)} ${balanced(parts.slice(middle), op)})`;
}

const not = (cond: Cond): Cond => (typeof cond === 'boolean' ? !cond : sql`(NOT (${cond}))`);

/** Flags and keywords are ASCII atoms; SQLite's lower() changes exactly A-Z, so JS must do no more than that. */
const asciiLower = (text: string): string => text.replace(/[A-Z]+/g, (s) => s.toLowerCase());

/** Case-insensitive comparison form for text that may hold any letters. */
const fold = (text: string): string => text.normalize('NFC').toLowerCase();

function fieldPlan(column: (typeof FIELD_COLUMNS)[keyof typeof FIELD_COLUMNS], value: string): Plan {
  if (value === '') return exact(true); // every field contains the empty string
  const ref = sql.ref(`m.${column}`);
  const needle = value.normalize('NFC');
  if (/^[\x00-\x7f]*$/.test(needle)) return exact(sql`instr(lower(${ref}), ${asciiLower(needle)}) > 0`);
  const runs = needle.split(/[^\x00-\x7f]+/).filter((run) => run.length > 0);
  const folded = fold(needle);
  return {
    type: 'check',
    upper: allOf(runs.map((run) => sql`instr(lower(${ref}), ${asciiLower(run)}) > 0`)),
    test: (row) => fold(String(row[column])).includes(folded),
    cost: 1
  };
}

/** An FTS5 string: everything inside double quotes is literal text, a quote is written twice. */
const phrase = (text: string): string => `"${text.replace(/"/g, '""')}"`;

function fullText(query: string): Cond {
  return sql`m.blob_id IN (SELECT id FROM blobs WHERE num IN (SELECT rowid FROM message_text WHERE message_text MATCH ${query}))`;
}

/**
 * Whether every match must satisfy a full-text condition (it is the key, or one of the keys of the top-level AND):
 * then the index hits drive the query through messages(blob_id) instead of a scan of the whole folder.
 */
function drivenByText(key: SearchKey): boolean {
  if (key.kind === 'text') return characters(key.value) >= TRIGRAM;
  return key.kind === 'and' && key.keys.some(drivenByText);
}

const characters = (text: string): number => [...text].length;

function textPlan(scope: 'text' | 'body', value: string): Plan {
  if (value === '') return exact(true);
  const columns = scope === 'text' ? '{headers body}' : '{body}';
  if (characters(value) >= TRIGRAM) return exact(fullText(`${columns} : ${phrase(value)}`));
  const folded = fold(value);
  return {
    type: 'check',
    upper: true,
    test: async (row, text) => {
      const fields = await text.fields(row.blob_id);
      return (scope === 'text' && fold(fields.headers).includes(folded)) || fold(fields.body).includes(folded);
    },
    cost: 2
  };
}

function headerPlan(name: string, value: string): Plan {
  // the index holds every header line as "Name: decoded value"
  const phrases = [`${name}:`, value].filter((p) => characters(p) >= TRIGRAM).map(phrase);
  const key = name.toLowerCase();
  const folded = fold(value);
  return {
    type: 'check',
    upper: phrases.length ? fullText(`{headers} : (${phrases.join(' AND ')})`) : true,
    test: async (row, text) =>
      (await text.headers(row.blob_id)).some((h) => h.key === key && (value === '' || fold(decodeHeaderText(h.value)).includes(folded))),
    cost: 2
  };
}

function setPlan(c: Compiler, ranges: UidRanges): Plan {
  const merged = mergeRanges(ranges);
  if (!merged.length) return exact(false);
  const between = ([lo, hi]: [number, number]) => (lo === hi ? sql`m.uid = ${sql.lit(lo)}` : sql`m.uid BETWEEN ${sql.lit(lo)} AND ${sql.lit(hi)}`);
  if (merged.length <= MAX_RANGES_PER_SET && c.sqlRanges + merged.length <= MAX_RANGES_PER_QUERY) {
    c.sqlRanges += merged.length;
    return exact(anyOf(merged.map(between)));
  }
  const span: [number, number] = [merged[0]![0], merged[merged.length - 1]![1]];
  const inSet = uidRangeTest(merged);
  return { type: 'check', upper: between(span), test: (row) => inSet(row.uid), cost: 1 };
}

/** Sorted, non-overlapping, non-adjacent ranges (the session may hand over "$" as one range per UID). */
function mergeRanges(ranges: UidRanges): Array<[number, number]> {
  const sorted = ranges
    .map(([a, b]): [number, number] => (a <= b ? [a, b] : [b, a]))
    .filter(([a, b]) => {
      if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b)) throw new Error('UID ranges must be integers'); // sql.lit below
      return b >= 1;
    })
    .sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

// ---- deciding rows in JS ----

/** Selected columns: the exact parts under an inexact operator, and the SQL bound of each check (skips blob reads). */
function collectColumns(plan: Plan, columns: Map<Plan, string>): void {
  if (plan.type === 'sql' || plan.type === 'check') {
    if (typeof upperOf(plan) !== 'boolean') columns.set(plan, `k${columns.size}`);
    return;
  }
  for (const part of plan.type === 'not' ? [plan.part] : plan.parts) collectColumns(part, columns);
}

/** A selected condition: 1/0 from SQLite (true/false from PostgreSQL). */
const selected = (value: unknown): boolean => value === 1 || value === true;

async function evaluate(plan: Plan, row: Row, columns: Map<Plan, string>, text: StoredText): Promise<boolean> {
  switch (plan.type) {
    case 'sql': {
      const alias = columns.get(plan);
      return alias ? selected(row[alias]) : plan.cond === true;
    }
    case 'check': {
      const alias = columns.get(plan);
      if (alias ? !selected(row[alias]) : plan.upper === false) return false;
      return plan.test(row, text);
    }
    case 'not':
      return !(await evaluate(plan.part, row, columns, text));
    case 'and':
      for (const part of plan.parts) if (!(await evaluate(part, row, columns, text))) return false;
      return true;
    case 'or':
      for (const part of plan.parts) if (await evaluate(part, row, columns, text)) return true;
      return false;
  }
}

/** The current row's message, read and parsed at most once however many checks need it. */
class StoredText {
  private blobId: string | null = null;
  private parsed: Promise<{ raw: Buffer; root: MimePart }> | null = null;
  private search: SearchFields | null = null;

  constructor(private readonly readBlob: (blobId: string) => Promise<Buffer>) {}

  private load(blobId: string): Promise<{ raw: Buffer; root: MimePart }> {
    if (this.blobId !== blobId || !this.parsed) {
      this.blobId = blobId;
      this.search = null;
      this.parsed = this.readBlob(blobId)
        .catch((err: NodeJS.ErrnoException) => {
          // expunged (and its file unlinked) by another session since the query ran: read as an empty message
          if (err?.code === 'ENOENT') return Buffer.alloc(0);
          throw err;
        })
        .then((raw) => ({ raw, root: parseMessage(raw) }));
    }
    return this.parsed;
  }

  async headers(blobId: string): Promise<HeaderField[]> {
    return (await this.load(blobId)).root.headers;
  }

  /** The text the full-text index holds for this message (same extraction as at delivery). */
  async fields(blobId: string): Promise<SearchFields> {
    const { raw, root } = await this.load(blobId);
    this.search ??= extractSearchFields(raw, root);
    return this.search;
  }
}
