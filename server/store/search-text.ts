// Search columns and full-text body of a stored message: decoded header text and text/plain + text/html content (RFC 9051 §6.4.4 SEARCH).
import { isUtf8 } from 'node:buffer';
import libmime from 'libmime';
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import { hexValue, type MimePart } from './mime.js';

export interface SearchFields {
  subject: string; // encoded-words decoded, case kept
  from: string;
  to: string;
  cc: string;
  bcc: string;
  messageId: string;
  sentDate: number | null; // ms since epoch from the Date: field, null if absent or unparsable
  headers: string; // every header line of the message, encoded-words decoded, one per line
  body: string; // decoded text of the text/plain and text/html parts
}

const BODY_LIMIT = 1024 * 1024; // UTF-8 bytes of body text kept for the index
const RAW_PER_OUTPUT = 8; // encoded bytes read per output byte: covers base64 (4/3) of UTF-16 (2) and stripped markup

export function extractSearchFields(raw: Buffer, root: MimePart): SearchFields {
  const { headers } = root;
  const joined = (key: string): string =>
    headers.filter((h) => h.key === key).map((h) => decodeHeaderText(h.value)).join(', ');
  const date = headers.find((h) => h.key === 'date');
  return {
    subject: joined('subject'),
    from: joined('from'),
    to: joined('to'),
    cc: joined('cc'),
    bcc: joined('bcc'),
    messageId: headers.find((h) => h.key === 'message-id')?.value.trim() ?? '',
    sentDate: date ? parseSentDate(date.value) : null,
    headers: headers.map((h) => `${h.name}: ${decodeHeaderText(h.value)}`).join('\n'),
    body: extractBodyText(raw, root),
  };
}

/** RFC 2047 encoded-words decoded; text that is not valid MIME stays as written. */
export function decodeHeaderText(value: string): string {
  if (!value.includes('=?')) return value;
  try {
    return libmime.decodeWords(value);
  } catch {
    return value;
  }
}

function extractBodyText(raw: Buffer, root: MimePart): string {
  const texts: string[] = [];
  let budget = BODY_LIMIT;
  const pending: MimePart[] = [root]; // depth-first, document order
  while (pending.length > 0 && budget > 0) {
    const part = pending.pop()!;
    if (part.parts.length > 0) {
      for (let i = part.parts.length - 1; i >= 0; i--) pending.push(part.parts[i]!);
      continue;
    }
    if (part.message) {
      pending.push(part.message.part); // text of attached messages is searchable too
      continue;
    }
    const { type, subtype } = part.contentType;
    if (type !== 'text' || (subtype !== 'plain' && subtype !== 'html')) continue;
    const text = truncateUtf8(partText(raw, part, budget * RAW_PER_OUTPUT), budget);
    if (text === '') continue;
    texts.push(text);
    budget -= Buffer.byteLength(text) + 1;
  }
  return texts.join('\n');
}

function partText(raw: Buffer, part: MimePart, rawLimit: number): string {
  const encoded = raw.subarray(part.bodyStart, Math.min(part.bodyEnd, part.bodyStart + rawLimit));
  const bytes = decodeTransferEncoding(encoded, part.encoding);
  const { params, subtype } = part.contentType;
  const text = decodeText(bytes, params.charset);
  if (subtype === 'html') return htmlToText(text);
  if (params.format?.toLowerCase() === 'flowed') return libmime.decodeFlowed(text, params.delsp?.toLowerCase() === 'yes'); // RFC 3676 §4.2
  return text.replace(/\r\n?/g, '\n'); // one line ending, as flowed and HTML text have
}

function decodeTransferEncoding(encoded: Buffer, encoding: string): Buffer {
  if (encoding === 'BASE64') return Buffer.from(encoded.toString('latin1'), 'base64'); // Node skips whitespace and junk
  if (encoding === 'QUOTED-PRINTABLE') return decodeQuotedPrintable(encoded);
  return encoded;
}

function decodeText(bytes: Buffer, charset: string | undefined): string {
  // us-ascii is the RFC 2045 §5.2 default, and is often declared for UTF-8 or Latin-1 text; read it as the bytes show
  if (!charset || /^(us-ascii|ascii|utf-?8)$/i.test(charset)) return bytes.toString(isUtf8(bytes) ? 'utf8' : 'latin1');
  try {
    return decodeCharset(bytes, charset);
  } catch {
    return bytes.toString('latin1');
  }
}

/** RFC 2045 §6.7 quoted-printable, on bytes. */
export function decodeQuotedPrintable(src: Buffer): Buffer {
  const out = Buffer.allocUnsafe(src.length);
  const len = src.length;
  let o = 0;
  for (let i = 0; i < len; i++) {
    const c = src[i]!;
    if (c === 0x3d) {
      const high = hexValue(src[i + 1]);
      const low = high === -1 ? -1 : hexValue(src[i + 2]);
      if (low !== -1) {
        out[o++] = high * 16 + low;
        i += 2;
        continue;
      }
      let j = i + 1;
      while (j < len && (src[j] === 0x20 || src[j] === 0x09)) j++;
      if (j >= len || src[j] === 0x0a) {
        i = j; // rule 5: soft line break
        continue;
      }
      if (src[j] === 0x0d && src[j + 1] === 0x0a) {
        i = j + 1;
        continue;
      }
      out[o++] = c; // a lone '=' is kept, as the RFC suggests for robustness
    } else if (c === 0x20 || c === 0x09) {
      let j = i;
      while (j < len && (src[j] === 0x20 || src[j] === 0x09)) j++;
      const atLineEnd = j >= len || src[j] === 0x0a || (src[j] === 0x0d && src[j + 1] === 0x0a);
      if (!atLineEnd) o += src.copy(out, o, i, j); // rule 3: trailing whitespace was added in transport
      i = j - 1;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return text;
  return bytes.subarray(0, Math.max(0, maxBytes)).toString('utf8').replace(/\uFFFD$/, ''); // a cut character
}

// ---- HTML to text ----

const BLOCK_TAGS = new Set([
  'address', 'article', 'aside', 'blockquote', 'br', 'dd', 'div', 'dl', 'dt', 'footer', 'form', 'h1', 'h2', 'h3',
  'h4', 'h5', 'h6', 'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section', 'table', 'tbody', 'td',
  'tfoot', 'th', 'thead', 'title', 'tr', 'ul',
]);
const HIDDEN_TAGS = new Set(['script', 'style', 'template', 'noscript']);
const TAG_NAME = /<(\/?)([a-zA-Z][a-zA-Z0-9-]*)/y;

/** Visible text of an HTML body: tags removed (block tags become line breaks), scripts and styles dropped, entities decoded. */
export function htmlToText(html: string): string {
  const out: string[] = [];
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt === -1) {
      out.push(html.slice(i));
      break;
    }
    out.push(html.slice(i, lt));
    if (html.startsWith('<!--', lt)) {
      const end = html.indexOf('-->', lt + 4);
      i = end === -1 ? html.length : end + 3;
      continue;
    }
    TAG_NAME.lastIndex = lt;
    const tag = TAG_NAME.exec(html);
    const special = html[lt + 1] === '!' || html[lt + 1] === '?'; // doctype, CDATA, processing instruction
    if (!tag && !special) {
      out.push('<'); // a lone '<' in text
      i = lt + 1;
      continue;
    }
    const gt = html.indexOf('>', lt);
    if (gt === -1) break; // unterminated tag at the end
    i = gt + 1;
    const name = tag ? tag[2]!.toLowerCase() : '';
    if (tag && !tag[1] && HIDDEN_TAGS.has(name) && html[gt - 1] !== '/') {
      const close = new RegExp(`</${name}\\s*>`, 'gi');
      close.lastIndex = i;
      const end = close.exec(html);
      i = end ? end.index + end[0].length : html.length;
      continue;
    }
    if (BLOCK_TAGS.has(name)) out.push('\n');
  }
  return decodeEntities(out.join(''))
    .replace(/[ \t\r\f\v\u00a0]+/g, ' ')
    .replace(/ ?\n[ \n]*/g, '\n')
    .trim();
}

// HTML named character references most seen in mail; Latin-1 names map to U+00A0..U+00FF in order.
const LATIN1_NAMES =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute ' +
  'micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig ' +
  'Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash ' +
  'Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc ' +
  'euml igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml ' +
  'yacute thorn yuml';
const ENTITIES = new Map<string, string>([
  ['amp', '&'], ['lt', '<'], ['gt', '>'], ['quot', '"'], ['apos', "'"], ['OElig', 'Œ'], ['oelig', 'œ'],
  ['Scaron', 'Š'], ['scaron', 'š'], ['Yuml', 'Ÿ'], ['fnof', 'ƒ'], ['circ', 'ˆ'], ['tilde', '˜'], ['ensp', '\u2002'],
  ['emsp', '\u2003'], ['thinsp', '\u2009'], ['zwnj', '\u200c'], ['zwj', '\u200d'], ['lrm', '\u200e'], ['rlm', '\u200f'],
  ['ndash', '–'], ['mdash', '—'], ['lsquo', '‘'], ['rsquo', '’'], ['sbquo', '‚'], ['ldquo', '“'], ['rdquo', '”'],
  ['bdquo', '„'], ['dagger', '†'], ['Dagger', '‡'], ['bull', '•'], ['hellip', '…'], ['permil', '‰'], ['prime', '′'],
  ['Prime', '″'], ['lsaquo', '‹'], ['rsaquo', '›'], ['euro', '€'], ['trade', '™'], ['larr', '←'], ['rarr', '→'],
  ['uarr', '↑'], ['darr', '↓'], ['harr', '↔'], ['minus', '−'], ['times', '×'], ['infin', '∞'], ['ne', '≠'],
  ['le', '≤'], ['ge', '≥'], ['hearts', '♥'], ['check', '✓'],
  ...LATIN1_NAMES.split(' ').map((name, i): [string, string] => [name, String.fromCharCode(0xa0 + i)]),
]);

export function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(?:#(\d{1,8})|#[xX]([0-9a-fA-F]{1,7})|([a-zA-Z][a-zA-Z0-9]{1,31}));?/g, (match, dec, hex, name) => {
    if (name !== undefined) return ENTITIES.get(name) ?? match;
    const code = dec !== undefined ? Number(dec) : parseInt(hex, 16);
    const valid = code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff);
    return valid ? String.fromCodePoint(code) : '\uFFFD';
  });
}

// ---- Date: field (RFC 5322 §3.3, obsolete forms §4.3) ----

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const ZONE_HOURS: Record<string, number> = {
  ut: 0, utc: 0, gmt: 0, z: 0, est: -5, edt: -4, cst: -6, cdt: -5, mst: -7, mdt: -6, pst: -8, pdt: -7,
};
const DATE_TIME =
  /(\d{1,2})[\s-]+([a-z]{3})[a-z]*\.?[\s-]+(\d{2,4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?(?:\.\d+)?(?:\s*([+-]\d{2}:?\d{2}|[a-z]{1,5}))?/i;

/** Milliseconds since the epoch, or null when the field is not a date. */
export function parseSentDate(value: string): number | null {
  const text = value.slice(0, 200).replace(/\([^()]*\)/g, ' '); // comments such as "(CEST)"
  const m = DATE_TIME.exec(text);
  if (!m) {
    const fallback = Date.parse(text); // ISO 8601 and other non-RFC forms seen in the wild
    return Number.isNaN(fallback) ? null : fallback;
  }
  const day = Number(m[1]);
  const month = MONTHS.indexOf(m[2]!.toLowerCase());
  let year = Number(m[3]);
  if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900; // RFC 5322 §4.3
  else if (m[3]!.length === 3) year += 1900;
  const [hour, minute, second] = [Number(m[4]), Number(m[5]), Number(m[6] ?? 0)];
  if (month === -1 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let offsetMinutes = 0;
  const zone = m[7];
  if (zone && /^[+-]/.test(zone)) {
    const digits = zone.replace(':', '');
    const sign = digits[0] === '-' ? -1 : 1;
    offsetMinutes = sign * (Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5)));
  } else if (zone) {
    offsetMinutes = (ZONE_HOURS[zone.toLowerCase()] ?? 0) * 60; // military and unknown zones count as -0000 (RFC 5322 §4.3)
  }
  return Date.UTC(year, month, day, hour, minute, Math.min(second, 59)) - offsetMinutes * 60_000;
}
