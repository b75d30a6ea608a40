// IMAP response data on the wire: strings, literals, lists, ENVELOPE and BODY/BODYSTRUCTURE (RFC 9051 §4, §7.5.2; RFC 3501 §4, §7.4.2).
import type { Envelope, EnvelopeAddress } from '../store/envelope.js';
import type { MimePart } from '../store/mime.js';

/**
 * A value of an IMAP response.
 * - `null` is NIL; numbers and bigints are written in decimal (non-negative integers only).
 * - A `string` is an IMAP string: quoted when it can be, else a literal. Never an atom, because response
 *   grammar asks for `string`/`nstring` there (an atom NIL would read as NIL).
 * - A `Buffer` is a literal `{n}`; `{ literal, binary: true }` a literal8 `~{n}` (RFC 3516, RFC 9051 §4.3).
 * - An array is a parenthesized list with one SP between elements.
 * - `{ adjacent }` writes its elements one after another without SP, inside the surrounding list: the
 *   grammar's `1*address` and `1*body` (RFC 9051 §9) have no separator.
 * - `{ atom }` and `{ raw }` are written as given (flags such as `\Seen` are atoms with a backslash);
 *   `{ quoted }` is a string that stays quoted however long it is (a literal only if it cannot be quoted).
 */
export type ImapData =
  | null
  | number
  | bigint
  | string
  | Buffer
  | ImapData[]
  | { atom: string }
  | { literal: Buffer; binary?: boolean }
  | { quoted: string }
  | { raw: string }
  | { adjacent: ImapData[] };

export interface FormatOptions {
  /** UTF8=ACCEPT (RFC 6855) or IMAP4rev2 is enabled: 8-bit text may go in quoted strings (RFC 9051 §4.3). */
  utf8?: boolean;
}

// Longer strings go as literals: quoted strings make lines that some clients cap (RFC 2683 §3.2.1.5).
const MAX_QUOTED = 1024;

// Characters a quoted string cannot carry (RFC 9051 §9 QUOTED-CHAR, TEXT-CHAR, CHAR; RFC 3501 §9 is 7-bit).
const NOT_QUOTABLE_7BIT = /[\r\n\u0080-\uffff]/;
const NOT_QUOTABLE_UTF8 = /[\r\n]/;
const QUOTED_SPECIALS = /["\\]/g;
const SPECIAL_7BIT = /[\0\r\n"\\\u0080-\uffff]/; // anything that is not written as "value" unchanged
// ATOM-CHAR: CHAR except atom-specials "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]" (RFC 9051 §9)
const ATOM = /^[!#$&'+,\-./0-9:;<=>?@A-Z[^_`a-z|}~]+$/;
const ASTRING = /^[!#$&'+,\-./0-9:;<=>?@A-Z[\]^_`a-z|}~]+$/; // ASTRING-CHAR adds resp-specials "]"

/** Collects text and literal bytes; text is encoded once per run between literals. */
class WireWriter {
  private readonly chunks: Buffer[] = [];
  // Tokens are appended to one string: V8 keeps it as a rope (no copy per token) and flattens it once when
  // encoded; measured faster than an array joined per response for FETCH ENVELOPE BODYSTRUCTURE.
  private text = '';

  constructor(readonly utf8: boolean) {}

  write(text: string): void {
    this.text += text;
  }

  bytes(data: Buffer): void {
    this.flush();
    this.chunks.push(data);
  }

  finish(): Buffer {
    this.flush();
    return this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
  }

  private flush(): void {
    if (this.text === '') return;
    this.chunks.push(Buffer.from(this.text, 'utf8'));
    this.text = '';
  }
}

export function serialize(value: ImapData, options?: FormatOptions): Buffer {
  const writer = new WireWriter(options?.utf8 === true);
  writeData(writer, value);
  return writer.finish();
}

/** `* <seq> FETCH (NAME value NAME value)\r\n` (RFC 9051 §7.5.2); names are written as given (`BODY[1.MIME]<0>`). */
export function fetchResponse(seq: number, items: Array<[string, ImapData]>, options?: FormatOptions): Buffer {
  const writer = new WireWriter(options?.utf8 === true);
  writer.write(`* ${seq} FETCH (`);
  for (let i = 0; i < items.length; i++) {
    const [name, value] = items[i]!;
    writer.write(i === 0 ? name + ' ' : ' ' + name + ' ');
    writeData(writer, value);
  }
  writer.write(')\r\n');
  return writer.finish();
}

/** An IMAP string on the wire: `"quoted"` or `{n}\r\n` followed by the UTF-8 bytes. */
export function imapString(value: string, options?: FormatOptions): string {
  const writer = new WireWriter(options?.utf8 === true);
  writeString(writer, value, MAX_QUOTED);
  return writer.finish().toString('utf8');
}

/** An astring (RFC 9051 §9): an atom when the value is one (and not NIL, which clients read as NIL), else a string. */
export function astringData(value: string): ImapData {
  return ASTRING.test(value) && value.toUpperCase() !== 'NIL' ? { atom: value } : value;
}

/** True when the value may be written as an atom (RFC 9051 §9 atom). */
export function isAtom(value: string): boolean {
  return ATOM.test(value);
}

/** A FLAGS list: flags are atoms, system flags with their backslash (RFC 9051 §2.3.2). */
export function flagsData(flags: Iterable<string>): ImapData {
  const list: ImapData[] = [];
  for (const flag of flags) list.push({ atom: flag });
  return list;
}

function writeData(writer: WireWriter, value: ImapData): void {
  if (value === null) {
    writer.write('NIL');
  } else if (typeof value === 'string') {
    writeString(writer, value, MAX_QUOTED);
  } else if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`Not an IMAP number: ${value}`);
    writer.write(String(value));
  } else if (typeof value === 'bigint') {
    if (value < 0n) throw new RangeError(`Not an IMAP number: ${value}`);
    writer.write(value.toString());
  } else if (Array.isArray(value)) {
    writer.write('(');
    for (let i = 0; i < value.length; i++) {
      if (i > 0) writer.write(' ');
      writeData(writer, value[i]!);
    }
    writer.write(')');
  } else if (Buffer.isBuffer(value)) {
    writer.write(`{${value.length}}\r\n`);
    writer.bytes(value);
  } else if ('atom' in value) {
    writer.write(value.atom);
  } else if ('quoted' in value) {
    writeString(writer, value.quoted, Infinity);
  } else if ('literal' in value) {
    writer.write(value.binary ? `~{${value.literal.length}}\r\n` : `{${value.literal.length}}\r\n`);
    writer.bytes(value.literal);
  } else if ('adjacent' in value) {
    for (const item of value.adjacent) writeData(writer, item);
  } else {
    writer.write(value.raw);
  }
}

function writeString(writer: WireWriter, value: string, maxQuoted: number): void {
  if (value.length <= maxQuoted && !SPECIAL_7BIT.test(value)) {
    writer.write('"' + value + '"'); // the common case: one scan
    return;
  }
  // CHAR8 excludes NUL: no string can carry one (RFC 9051 §4.3); only literal8 can
  if (value.includes('\0')) value = value.replaceAll('\0', '');
  const unquotable = writer.utf8 ? NOT_QUOTABLE_UTF8 : NOT_QUOTABLE_7BIT;
  if (value.length <= maxQuoted && !unquotable.test(value)) {
    writer.write('"' + value.replace(QUOTED_SPECIALS, '\\$&') + '"');
  } else {
    // the literal's text joins the pending text and is encoded with it: no Buffer per string
    writer.write(`{${Buffer.byteLength(value, 'utf8')}}\r\n`);
    writer.write(value);
  }
}

// ---- ENVELOPE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) ----

export function envelopeData(envelope: Envelope): ImapData {
  return [
    envelope.date,
    envelope.subject,
    addressListData(envelope.from),
    addressListData(envelope.sender),
    addressListData(envelope.replyTo),
    addressListData(envelope.to),
    addressListData(envelope.cc),
    addressListData(envelope.bcc),
    envelope.inReplyTo,
    envelope.messageId,
  ];
}

/**
 * `"(" 1*address ")" / nil`. Group markers pass through as stored: the start `(NIL NIL "group" NIL)`,
 * the end `(NIL NIL NIL NIL)`; an address without a domain keeps `""` as host so it is no marker.
 */
function addressListData(list: EnvelopeAddress[] | null): ImapData {
  if (list === null || list.length === 0) return null;
  const addresses: ImapData[] = new Array(list.length);
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    addresses[i] = [a.name, null, a.mailbox, a.host]; // addr-adl is always NIL: source routes are not kept
  }
  return [{ adjacent: addresses }];
}

// ---- BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, RFC 3501 §7.4.2) ----

/**
 * BODY (`extended` false) or BODYSTRUCTURE (`extended` true) of a part and everything below it.
 * Type, subtype, parameter names and the disposition type are upper-case as in the RFC examples; values
 * are as stored. Without `utf8`, a parameter value outside ASCII is sent as an RFC 2231 `name*` parameter
 * (`utf-8''%C3%A4`) and message/global as a basic part, because IMAP4rev1 has no UTF-8 strings and
 * knows only message/rfc822 as an encapsulated message (RFC 3501 §9 media-message).
 */
export function bodyStructureData(part: MimePart, extended: boolean, options?: FormatOptions): ImapData {
  return bodyData(part, extended, options?.utf8 === true);
}

function bodyData(part: MimePart, extended: boolean, utf8: boolean): ImapData {
  const { type, subtype, params } = part.contentType;

  if (type === 'multipart' && part.parts.length > 0) {
    // body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]
    const bodies: ImapData[] = new Array(part.parts.length);
    for (let i = 0; i < part.parts.length; i++) bodies[i] = bodyData(part.parts[i]!, extended, utf8);
    const fields: ImapData[] = [{ adjacent: bodies }, subtype.toUpperCase()];
    if (extended) {
      // body-ext-mpart = body-fld-param SP body-fld-dsp SP body-fld-lang SP body-fld-loc
      fields.push(paramsData(params, utf8), dispositionData(part, utf8), languageData(part.language), part.location);
    }
    return fields;
  }

  const encapsulated = type === 'message' && (subtype === 'rfc822' || (subtype === 'global' && utf8));
  const message = encapsulated ? part.message : null;
  const fields: ImapData[] =
    encapsulated && !message
      ? ['APPLICATION', 'OCTET-STREAM', null] // mime.ts never stores this; a message/rfc822 form without its body would break clients
      : [type.toUpperCase(), subtype.toUpperCase(), paramsData(type === 'text' ? withCharset(params) : params, utf8)];
  // body-fields = body-fld-param SP body-fld-id SP body-fld-desc SP body-fld-enc SP body-fld-octets
  fields.push(part.id, part.description, part.encoding, part.size);
  if (message) {
    // body-type-msg: envelope, body and lines of the encapsulated message (RFC 9051 §7.5.2)
    fields.push(envelopeData(message.envelope), bodyData(message.part, extended, utf8), part.lines);
  } else if (type === 'text') {
    fields.push(part.lines); // body-type-text: body-fld-lines
  }
  if (extended) {
    // body-ext-1part = body-fld-md5 SP body-fld-dsp SP body-fld-lang SP body-fld-loc
    fields.push(part.md5, dispositionData(part, utf8), languageData(part.language), part.location);
  }
  return fields;
}

// RFC 2046 §4.1.2: text without a charset parameter is us-ascii
function withCharset(params: Record<string, string>): Record<string, string> {
  if ('charset' in params) return params;
  return { charset: 'us-ascii', ...params };
}

/** body-fld-param = "(" string SP string *(SP string SP string) ")" / nil */
function paramsData(params: Record<string, string>, utf8: boolean): ImapData {
  const list: ImapData[] = [];
  for (const name in params) {
    const value = params[name]!;
    if (!utf8 && /[^\x00-\x7f]/.test(value)) {
      list.push(name.toUpperCase() + '*', "utf-8''" + percentEncode(value)); // RFC 2231 §4
    } else {
      list.push(name.toUpperCase(), value);
    }
  }
  return list.length > 0 ? list : null;
}

/** body-fld-dsp = "(" string SP body-fld-param ")" / nil */
function dispositionData(part: MimePart, utf8: boolean): ImapData {
  if (!part.disposition) return null;
  return [part.disposition.type.toUpperCase(), paramsData(part.disposition.params, utf8)]; // filename* as RFC 2231 too
}

/** body-fld-lang = nstring / "(" string *(SP string) ")" */
function languageData(language: string[] | null): ImapData {
  return language && language.length > 0 ? language : null;
}

// RFC 2231 §7 attribute-char: CHAR except SP, CTLs, "*", "'", "%" and tspecials; all else is %XX of UTF-8
function percentEncode(value: string): string {
  const wellFormed = value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
  return encodeURIComponent(wellFormed).replace(/[*'()]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}
