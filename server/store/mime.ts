// MIME structure of a stored message: header fields and the RFC 2045/2046 part tree, as byte offsets into the raw message.
import { isUtf8 } from 'node:buffer';
import { decode as decodeCharset } from 'libmime/lib/charset.js';
import { buildEnvelope, type Envelope } from './envelope.js';

export interface HeaderField {
  key: string; // lower-case field name
  name: string; // field name as written
  value: string; // unfolded value (RFC 5322 §2.2.3), not decoded
}

export interface ContentType {
  type: string; // lower-case
  subtype: string; // lower-case
  params: Record<string, string>; // lower-case names, unquoted values, RFC 2231 parameters joined and decoded
}

export interface MimePart {
  headerStart: number; // offset of the first header byte
  bodyStart: number; // offset just after the blank line that ends the header
  bodyEnd: number; // offset just after the body (excludes the CRLF that belongs to a following boundary)
  headers: HeaderField[];
  /**
   * Invariants callers may rely on: a multipart/* part always has at least one entry in `parts`, and a
   * message/rfc822 or message/global part always has `message`. Content that cannot be split (no boundary,
   * no delimiter found, nesting or part limit reached, base64 message/global) is reported as
   * application/octet-stream instead; its own Content-Type field is still in `headers`.
   */
  contentType: ContentType;
  id: string | null;
  description: string | null;
  encoding: string; // upper-case Content-Transfer-Encoding, default 7BIT
  disposition: { type: string; params: Record<string, string> } | null;
  language: string[] | null;
  location: string | null;
  md5: string | null;
  size: number; // body octets
  lines: number; // body lines for text/* and message/*, else 0
  parts: MimePart[];
  message: { envelope: Envelope; part: MimePart } | null;
}

// Limits: a crafted message must not exhaust the stack or memory; content past them is an opaque leaf.
const MAX_DEPTH = 32; // nested multipart/message levels (real mail rarely exceeds 5)
const MAX_PARTS = 10_000; // parts in one message, encapsulated messages included

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const HT = 0x09;
const DASH = 0x2d;
const COLON = 0x3a;

const TOKEN = /^[!#$%&'*+\-.^_`{|}~0-9A-Za-z]+$/; // RFC 2045 §5.1 token

interface ParseRun {
  raw: Buffer;
  partCount: number;
}

export function parseMessage(raw: Buffer): MimePart {
  const run: ParseRun = { raw, partCount: 0 };
  try {
    return parseEntity(run, 0, raw.length, 0, textPlain());
  } catch {
    // Not expected; the parser is written not to throw, but a stored message must always get a structure.
    return opaqueLeaf(raw, 0, raw.length);
  }
}

/** IMAP part numbering (RFC 9051 §6.4.5); an empty section is the message itself. */
export function findPart(root: MimePart, section: number[]): MimePart | null {
  let current = root;
  for (let i = 0; i < section.length; i++) {
    const n = section[i]!;
    if (!Number.isInteger(n) || n < 1) return null;
    let container: MimePart;
    if (i === 0) container = root;
    else if (current.message) container = current.message.part; // parts of an encapsulated message
    else if (current.parts.length > 0) container = current;
    else return null; // a leaf body part has no sub-parts
    if (container.parts.length > 0) {
      const next = container.parts[n - 1];
      if (!next) return null;
      current = next;
    } else if (n === 1) {
      current = container; // "non-multipart messages only have a part 1"
    } else {
      return null;
    }
  }
  return current;
}

function parseEntity(run: ParseRun, start: number, end: number, depth: number, defaultType: ContentType): MimePart {
  const { raw } = run;
  run.partCount++;
  const { headers, bodyStart } = parseHeaderBlock(raw, start, end);
  const field = (key: string): string | null => headers.find((h) => h.key === key)?.value ?? null;

  const encoding = field('content-transfer-encoding');
  const disposition = field('content-disposition');
  const language = field('content-language');
  const part: MimePart = {
    headerStart: start,
    bodyStart,
    bodyEnd: end,
    headers,
    contentType: parseContentType(field('content-type'), defaultType),
    id: field('content-id'),
    description: field('content-description'),
    encoding: (encoding && /^[^\s;(]+/.exec(stripComments(encoding).trim())?.[0]?.toUpperCase()) || '7BIT',
    disposition: disposition === null ? null : parseDisposition(disposition),
    language: language === null ? null : splitLanguage(language),
    location: field('content-location'),
    md5: field('content-md5'),
    size: end - bodyStart,
    lines: 0,
    parts: [],
    message: null,
  };

  const { type, subtype, params } = part.contentType;
  const expandable = depth < MAX_DEPTH && run.partCount < MAX_PARTS;
  if (type === 'multipart') {
    // RFC 2046 §5.1.5: parts of a digest default to message/rfc822
    const childDefault = subtype === 'digest' ? messageRfc822() : textPlain();
    if (expandable && params.boundary) splitMultipart(run, part, params.boundary, depth, childDefault);
    if (part.parts.length === 0) part.contentType = octetStream();
  } else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global')) {
    // RFC 2046 §5.2.1 forbids encoding message/rfc822; RFC 6532 §3.5 lets message/global be encoded, which hides its structure
    const identity = part.encoding === '7BIT' || part.encoding === '8BIT' || part.encoding === 'BINARY';
    if (expandable && identity) {
      const inner = parseEntity(run, bodyStart, end, depth + 1, textPlain());
      part.message = { envelope: buildEnvelope(inner.headers), part: inner };
    } else {
      part.contentType = octetStream();
    }
  }
  if (part.contentType.type === 'text' || part.contentType.type === 'message') part.lines = countLines(raw, bodyStart, end);
  return part;
}

function opaqueLeaf(raw: Buffer, start: number, end: number): MimePart {
  return {
    headerStart: start, bodyStart: start, bodyEnd: end, headers: [], contentType: octetStream(),
    id: null, description: null, encoding: '7BIT', disposition: null, language: null, location: null, md5: null,
    size: end - start, lines: 0, parts: [], message: null,
  };
}

// RFC 2045 §5.2: absent or invalid Content-Type means text/plain; charset=us-ascii
function textPlain(): ContentType {
  return { type: 'text', subtype: 'plain', params: Object.assign(Object.create(null), { charset: 'us-ascii' }) };
}
function messageRfc822(): ContentType {
  return { type: 'message', subtype: 'rfc822', params: Object.create(null) };
}
function octetStream(): ContentType {
  return { type: 'application', subtype: 'octet-stream', params: Object.create(null) };
}

// ---- header block (RFC 5322 §2.2, §3.6) ----

interface HeaderBlock {
  headers: HeaderField[];
  bodyStart: number;
}

function parseHeaderBlock(raw: Buffer, start: number, end: number): HeaderBlock {
  const fields: Array<{ start: number; nameEnd: number; end: number }> = [];
  let current: { start: number; nameEnd: number; end: number } | null = null;
  let pos = start;
  let bodyStart = end; // no blank line: everything is header (truncated message)
  while (pos < end) {
    let lineEnd = raw.indexOf(LF, pos);
    const next = lineEnd === -1 || lineEnd >= end ? end : lineEnd + 1;
    if (lineEnd === -1 || lineEnd >= end) lineEnd = end;
    let contentEnd = lineEnd;
    if (contentEnd > pos && raw[contentEnd - 1] === CR) contentEnd--;
    if (contentEnd === pos) {
      bodyStart = next; // the empty line ends the header (RFC 5322 §2.1)
      break;
    }
    const first = raw[pos];
    if (first === SP || first === HT) {
      if (current) current.end = contentEnd; // folded continuation (RFC 5322 §2.2.3)
    } else {
      let colon = pos;
      while (colon < contentEnd && raw[colon] !== COLON) colon++; // within this line only: no rescans
      current = colon < contentEnd ? { start: pos, nameEnd: colon, end: contentEnd } : null;
      if (current) fields.push(current); // a line without a colon is not a field: skipped
    }
    pos = next;
  }
  // RFC 6532 lets header fields carry UTF-8; bytes that are not UTF-8 are read as Latin-1 so none are lost
  const charset: BufferEncoding = isUtf8(raw.subarray(start, bodyStart)) ? 'utf8' : 'latin1';
  const headers: HeaderField[] = [];
  for (const f of fields) {
    const name = raw.toString(charset, f.start, f.nameEnd).replace(/[ \t]+$/, ''); // obs-optional WSP before ':'
    if (!/^[\x21-\x39\x3b-\x7e]+$/.test(name)) continue; // RFC 5322 §3.6.8 ftext
    const value = raw.toString(charset, f.nameEnd + 1, f.end).replace(/\r?\n/g, '').replace(/^[ \t]+|[ \t\r]+$/g, '');
    headers.push({ key: name.toLowerCase(), name, value });
  }
  return { headers, bodyStart };
}

// ---- multipart bodies (RFC 2046 §5.1.1) ----

interface Delimiter {
  start: number; // offset of "--boundary"
  next: number; // offset after the delimiter line
  close: boolean; // "--boundary--"
}

function splitMultipart(run: ParseRun, part: MimePart, boundary: string, depth: number, childDefault: ContentType): void {
  const { raw } = run;
  const delimiter = Buffer.from('--' + boundary, 'utf8');
  const region = raw.subarray(0, part.bodyEnd); // indexOf must not search past this body
  let found = findDelimiter(region, delimiter, part.bodyStart, part.bodyStart);
  while (found && !found.close) {
    if (run.partCount >= MAX_PARTS) break;
    const partStart = found.next;
    const following = findDelimiter(region, delimiter, partStart, part.bodyStart);
    let partEnd = part.bodyEnd; // no further delimiter: truncated, the part runs to the end
    if (following) {
      // the CRLF before a delimiter belongs to the delimiter, not to the part
      partEnd = following.start;
      if (partEnd > partStart && raw[partEnd - 1] === LF) partEnd--;
      if (partEnd > partStart && raw[partEnd - 1] === CR) partEnd--;
    }
    part.parts.push(parseEntity(run, partStart, partEnd, depth + 1, cloneType(childDefault)));
    found = following;
  }
}

function findDelimiter(region: Buffer, delimiter: Buffer, from: number, bodyStart: number): Delimiter | null {
  const end = region.length;
  let pos = from;
  for (;;) {
    const at = region.indexOf(delimiter, pos);
    if (at === -1) return null;
    pos = at + 1;
    if (at !== bodyStart && region[at - 1] !== LF) continue; // delimiters start a line
    let i = at + delimiter.length;
    let close = false;
    if (i + 1 < end && region[i] === DASH && region[i + 1] === DASH) {
      close = true;
      i += 2;
    }
    while (i < end && (region[i] === SP || region[i] === HT)) i++; // transport-padding
    if (i >= end) return { start: at, next: end, close };
    if (region[i] === LF) return { start: at, next: i + 1, close };
    if (region[i] === CR && (i + 1 >= end || region[i + 1] === LF)) return { start: at, next: Math.min(i + 2, end), close };
    // "--boundaryX": a longer boundary sharing the prefix, not ours
  }
}

function countLines(raw: Buffer, start: number, end: number): number {
  if (start >= end) return 0;
  const region = raw.subarray(0, end);
  let lines = 0;
  for (let at = region.indexOf(LF, start); at !== -1; at = region.indexOf(LF, at + 1)) lines++;
  if (raw[end - 1] !== LF) lines++; // a last line without line ending still counts
  return lines;
}

// ---- structured field values (RFC 2045 §5.1, RFC 2183, RFC 2231) ----

function parseContentType(value: string | null, fallback: ContentType): ContentType {
  if (value === null) return fallback;
  const cleaned = stripComments(value);
  const semi = cleaned.indexOf(';');
  const [type, subtype, extra] = (semi === -1 ? cleaned : cleaned.slice(0, semi)).split('/').map((s) => s.trim());
  if (!type || !subtype || extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype)) return fallback;
  return {
    type: type.toLowerCase(),
    subtype: subtype.toLowerCase(),
    params: semi === -1 ? Object.create(null) : parseParams(cleaned.slice(semi + 1)),
  };
}

function parseDisposition(value: string): { type: string; params: Record<string, string> } | null {
  const cleaned = stripComments(value);
  const semi = cleaned.indexOf(';');
  const type = (semi === -1 ? cleaned : cleaned.slice(0, semi)).trim();
  if (!TOKEN.test(type)) return null;
  return { type: type.toLowerCase(), params: semi === -1 ? Object.create(null) : parseParams(cleaned.slice(semi + 1)) };
}

function splitLanguage(value: string): string[] | null {
  const tags = stripComments(value).split(',').map((s) => s.trim()).filter((s) => s !== '');
  return tags.length > 0 ? tags : null;
}

function cloneType(t: ContentType): ContentType {
  return { type: t.type, subtype: t.subtype, params: Object.assign(Object.create(null), t.params) };
}

/** Removes RFC 5322 §3.2.2 comments outside quoted strings. */
function stripComments(value: string): string {
  if (!value.includes('(')) return value;
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += value.slice(i, i + 2);
      i++;
    } else if (quoted) {
      out += c;
      if (c === '"') quoted = false;
    } else if (c === '(') {
      depth++;
    } else if (c === ')' && depth > 0) {
      depth--;
      if (depth === 0) out += ' ';
    } else if (depth === 0) {
      out += c;
      if (c === '"') quoted = true;
    }
  }
  return out;
}

/** `; name=value; name="quoted value"`, tolerating unquoted values with spaces; RFC 2231 segments are joined. */
function parseParams(text: string): Record<string, string> {
  const plain: Record<string, string> = Object.create(null);
  const extended = new Map<string, Map<number, { value: string; encoded: boolean }>>();
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === ';' || text[i] === ' ' || text[i] === '\t')) i++;
    const eq = text.indexOf('=', i);
    const semi = text.indexOf(';', i);
    if (eq === -1 || (semi !== -1 && semi < eq)) {
      i = semi === -1 ? text.length : semi + 1; // a parameter without a value is ignored
      continue;
    }
    const name = text.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    while (i < text.length && (text[i] === ' ' || text[i] === '\t')) i++;
    let value = '';
    if (text[i] === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) value += text[i] === '\\' && i + 1 < text.length ? text[++i] : text[i];
      i++; // closing quote (or end of text: unterminated quoted string)
    } else {
      const stop = text.indexOf(';', i);
      value = text.slice(i, stop === -1 ? text.length : stop).trim();
      i = stop === -1 ? text.length : stop;
    }
    if (!name) continue;
    // RFC 2231 §3: name*N (continuation), §4: name* / name*N* (charset'language'%XX)
    const star = /^(.+?)\*(?:(\d{1,4})\*?)?$/.exec(name);
    if (star) {
      const base = star[1]!;
      const segments = extended.get(base) ?? new Map<number, { value: string; encoded: boolean }>();
      extended.set(base, segments);
      segments.set(star[2] === undefined ? 0 : Number(star[2]), { value, encoded: name.endsWith('*') });
    } else if (!(name in plain)) {
      plain[name] = value;
    }
  }
  for (const [base, segments] of extended) plain[base] = joinRfc2231(segments); // extended form wins over plain
  return plain;
}

function joinRfc2231(segments: Map<number, { value: string; encoded: boolean }>): string {
  const ordered = [...segments.entries()].sort((a, b) => a[0] - b[0]).map(([, s]) => s);
  let charset = 'utf-8';
  const bytes: Buffer[] = [];
  ordered.forEach((segment, index) => {
    let value = segment.value;
    if (segment.encoded && index === 0) {
      // RFC 2231 §4: charset'language' prefixes the first encoded segment only
      const match = /^([^']*)'[^']*'/.exec(value);
      if (match) {
        charset = match[1] || charset;
        value = value.slice(match[0].length);
      }
    }
    bytes.push(segment.encoded ? percentDecode(value) : Buffer.from(value, 'utf8'));
  });
  const joined = Buffer.concat(bytes);
  if (/^(utf-?8|us-ascii|ascii)$/i.test(charset)) return joined.toString('utf8');
  try {
    return decodeCharset(joined, charset);
  } catch {
    return joined.toString('latin1');
  }
}

function percentDecode(value: string): Buffer {
  const src = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(src.length);
  let o = 0;
  for (let i = 0; i < src.length; i++) {
    const high = src[i] === 0x25 ? hexValue(src[i + 1]) : -1;
    const low = high === -1 ? -1 : hexValue(src[i + 2]);
    if (low === -1) {
      out[o++] = src[i]!;
    } else {
      out[o++] = high * 16 + low;
      i += 2;
    }
  }
  return out.subarray(0, o);
}

/** Value of one ASCII hex digit, -1 for anything else (shared by quoted-printable and RFC 2231 percent decoding). */
export function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x57 : -1;
}
