// IMAP ENVELOPE of a message computed from its header fields (RFC 9051 §7.5.2, RFC 3501 §7.4.2), with an RFC 5322 §3.4 address-list parser.
import type { HeaderField } from './mime.js';

/**
 * One address of an envelope address list. Group syntax (RFC 5322 §3.4) is flattened as RFC 9051 §7.5.2
 * describes: a start marker `{ name: null, mailbox: groupName, host: null }`, the members, then an end
 * marker `{ mailbox: null, host: null }`. An address without a domain has `host: ''` so that it is never
 * mistaken for a group marker.
 */
export interface EnvelopeAddress {
  name: string | null;
  adl: null; // source routes are obsolete (RFC 5322 §4.4) and dropped
  mailbox: string | null;
  host: string | null;
}

/** Every string is the header text as written: encoded-words are not decoded, IMAP clients decode them. */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export function buildEnvelope(headers: HeaderField[]): Envelope {
  const first = (key: string): string | null => headers.find((h) => h.key === key)?.value ?? null;
  const addresses = (key: string): EnvelopeAddress[] | null => {
    const value = first(key);
    if (value === null) return null;
    const list = parseAddressList(value);
    return list.length > 0 ? list : null;
  };
  const from = addresses('from');
  return {
    date: first('date'),
    subject: first('subject'),
    from,
    // RFC 3501 §7.4.2: absent or empty Sender and Reply-To take the value of From
    sender: addresses('sender') ?? from,
    replyTo: addresses('reply-to') ?? from,
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    inReplyTo: first('in-reply-to'),
    messageId: first('message-id'),
  };
}

// ---- lexical tokens (RFC 5322 §3.2) ----

type TokenKind = 'word' | 'quoted' | 'comment' | 'literal' | 'special';

interface Token {
  kind: TokenKind;
  text: string; // unescaped content for quoted strings and comments, the character for specials
  raw: string; // as written
  spaceBefore: boolean;
}

const SPECIALS = new Set(['<', '>', '@', ',', ';', ':', ')', '\\']);
const WORD = /[^\s"()[\]<>@,;:\\]+/y; // atext and '.' (RFC 5322 §3.2.3)

function tokenize(value: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let spaceBefore = false;
  while (i < value.length) {
    const c = value[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      spaceBefore = true;
      i++;
      continue;
    }
    const start = i;
    let kind: TokenKind;
    let text = '';
    if (c === '"') {
      kind = 'quoted';
      for (i++; i < value.length && value[i] !== '"'; i++) text += value[i] === '\\' && i + 1 < value.length ? value[++i] : value[i];
      i++; // closing quote, if any
    } else if (c === '(') {
      kind = 'comment';
      let depth = 0;
      for (; i < value.length; i++) {
        const d = value[i]!;
        if (d === '\\' && i + 1 < value.length) {
          text += value[++i];
          continue;
        }
        if (d === '(') {
          if (++depth === 1) continue; // the comment's own opening parenthesis
        } else if (d === ')') {
          if (--depth === 0) break; // its closing parenthesis; nested comments stay as text
        }
        text += d;
      }
      i++;
    } else if (c === '[') {
      kind = 'literal'; // domain-literal (RFC 5322 §3.4.1)
      const close = value.indexOf(']', i);
      i = close === -1 ? value.length : close + 1;
    } else if (SPECIALS.has(c)) {
      kind = 'special';
      i++;
    } else {
      kind = 'word'; // atoms, including the dots of dot-atoms and obs-phrase
      WORD.lastIndex = i;
      i = WORD.test(value) ? WORD.lastIndex : i + 1; // a stray ']' or unusual white space stands alone
    }
    const raw = value.slice(start, Math.min(i, value.length));
    tokens.push({ kind, text: kind === 'quoted' || kind === 'comment' ? text : raw, raw, spaceBefore });
    spaceBefore = false;
  }
  return tokens;
}

// ---- address-list (RFC 5322 §3.4) ----

export function parseAddressList(value: string): EnvelopeAddress[] {
  const result: EnvelopeAddress[] = [];
  let pending: Token[] = []; // tokens of the address being read, comments included
  let inGroup = false;
  const tokens = tokenize(value);

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const special = token.kind === 'special' ? token.text : '';
    if (special === '<') {
      // angle-addr: everything up to '>' is the address, what came before is the display name
      let close = i + 1;
      while (close < tokens.length && !(tokens[close]!.kind === 'special' && tokens[close]!.text === '>')) close++;
      if (close === tokens.length) close = -1;
      const inner = tokens.slice(i + 1, close === -1 ? tokens.length : close);
      const address = addrSpec(inner.filter((t) => t.kind !== 'comment'));
      const name = phrase(pending) ?? lastComment(tokens.slice(close === -1 ? tokens.length : close + 1, nextSeparator(tokens, close)));
      result.push({ name, adl: null, ...address });
      pending = [];
      i = nextSeparator(tokens, close === -1 ? tokens.length : close) - 1;
    } else if (special === ':' && !inGroup) {
      result.push({ name: null, adl: null, mailbox: phrase(pending) ?? '', host: null }); // group start (RFC 9051 §7.5.2)
      pending = [];
      inGroup = true;
    } else if (special === ',' || special === ';') {
      flushBare(pending, result);
      pending = [];
      if (special === ';' && inGroup) {
        result.push({ name: null, adl: null, mailbox: null, host: null }); // group end
        inGroup = false;
      }
    } else {
      pending.push(token);
    }
  }
  flushBare(pending, result);
  if (inGroup) result.push({ name: null, adl: null, mailbox: null, host: null }); // unterminated group
  return result;
}

/** Index of the next ',' or ';' after `from` (or the end). */
function nextSeparator(tokens: Token[], from: number): number {
  for (let j = from + 1; j < tokens.length; j++) {
    const t = tokens[j]!;
    if (t.kind === 'special' && (t.text === ',' || t.text === ';')) return j;
  }
  return tokens.length;
}

/** An addr-spec without angle brackets: `user@example.com (Name)`; a trailing comment is taken as the name. */
function flushBare(pending: Token[], result: EnvelopeAddress[]): void {
  const words = pending.filter((t) => t.kind !== 'comment');
  if (words.length === 0) return;
  result.push({ name: lastComment(pending), adl: null, ...addrSpec(words) });
}

function addrSpec(tokens: Token[]): { mailbox: string; host: string } {
  // obs-route "@a,@b:" before the addr-spec is skipped (RFC 5322 §4.4)
  let start = 0;
  if (tokens[0]?.kind === 'special' && tokens[0].text === '@') {
    const colon = tokens.findIndex((t) => t.kind === 'special' && t.text === ':');
    start = colon === -1 ? 0 : colon + 1;
  }
  const spec = tokens.slice(start).filter((t) => t.kind !== 'special' || t.text === '@'); // stray specials dropped
  const at = spec.map((t) => t.kind === 'special' && t.text === '@').lastIndexOf(true);
  if (at === -1) return { mailbox: join(spec), host: '' }; // address without domain
  return { mailbox: join(spec.slice(0, at)), host: join(spec.slice(at + 1)) };
}

function join(tokens: Token[]): string {
  return tokens.map((t, i) => (i > 0 && t.spaceBefore ? ' ' : '') + t.raw).join('');
}

/** display-name: words and unquoted quoted-strings joined by single spaces; null when there is none. */
function phrase(tokens: Token[]): string | null {
  const words = tokens.filter((t) => t.kind === 'word' || t.kind === 'quoted' || t.kind === 'literal');
  if (words.length === 0) return null;
  return words.map((t) => t.text).join(' ');
}

function lastComment(tokens: Token[]): string | null {
  for (let j = tokens.length - 1; j >= 0; j--) {
    const text = tokens[j]!.kind === 'comment' ? tokens[j]!.text.trim() : '';
    if (text) return text;
  }
  return null;
}
