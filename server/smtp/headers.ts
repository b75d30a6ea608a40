// Trace and authentication header handling for inbound mail: the Received line (RFC 5321 §4.4) and removal of
// Authentication-Results that claim to be ours (RFC 8601 §5) before we add our own; header fields plugins add or drop.
import crypto from 'node:crypto';
import libmime from 'libmime';
import { parseMessage, type HeaderField } from '../store/mime.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time in UTC: "Sun, 22 Nov 2026 20:00:00 +0000". */
export function rfc5322Date(date = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())} +0000`;
}

/** Short id naming one accepted transaction in replies, logs and the Received line. */
export function newQueueId(): string {
  return crypto.randomBytes(8).toString('hex').toUpperCase();
}

/** Characters a client controls that must not break a header line. */
const clean = (s: string) => s.replace(/[^\x21-\x7e]/g, '?').slice(0, 255);
/** HELO and reverse names: host-name and address-literal characters only, so nothing can end the trace clause early. */
const hostText = (s: string) => s.replace(/[^A-Za-z0-9.:_\[\]-]/g, '?').slice(0, 255);

export interface ReceivedInfo {
  helo: string;
  reverseName: string;
  ip: string;
  hostname: string;
  /** RFC 3848 WITH protocol: SMTP, ESMTP, ESMTPS, ESMTPA, ESMTPSA */
  protocol: string;
  queueId: string;
  /** named only when there is exactly one, so other recipients stay private */
  recipients: string[];
  tls?: string;
  /** plugin results worth recording (README "Plugins"), written as a comment */
  plugins?: string;
}

export function receivedHeader(info: ReceivedInfo, date = new Date()): string {
  const ipLiteral = info.ip.includes(':') ? `IPv6:${info.ip}` : info.ip;
  const from = `from ${hostText(info.helo || 'unknown')} (${info.reverseName ? hostText(info.reverseName) + ' ' : ''}[${ipLiteral}])`;
  const by = `by ${info.hostname} (Postfach) with ${info.protocol} id ${info.queueId}`;
  const tls = info.tls ? `\r\n\t(${clean(info.tls).replace(/\?/g, ' ')})` : '';
  const forClause = info.recipients.length === 1 ? `\r\n\tfor <${clean(info.recipients[0])}>` : '';
  // RFC 5322 §3.2.2: a comment may hold any printable text but unbalanced parentheses and backslashes
  const plugins = info.plugins ? libmime.foldLines(`(plugins: ${info.plugins.replace(/[^\x20-\x7e]/g, '?').replace(/[()\\]/g, "'").slice(0, 900)})`, 76).replace(/\r\n /g, '\r\n\t') : '';
  return `Received: ${from}\r\n\t${by}${tls}${plugins ? `\r\n\t${plugins}` : ''}${forClause};\r\n\t${rfc5322Date(date)}\r\n`;
}

/** Offset just past the header block (after the empty line), or -1 when the block does not end within `head`. */
export function headerEnd(head: Buffer): number {
  if (head.length >= 2 && head[0] === 0x0d && head[1] === 0x0a) return 2;
  const i = head.indexOf('\r\n\r\n');
  return i < 0 ? -1 : i + 4;
}

/**
 * Drops the header fields `drop` picks (it sees each whole field, unfolded lines and all) from the header section
 * at the start of `head`. Returns `head` itself when nothing was removed or the section does not end within it.
 */
export function removeHeaderFields(head: Buffer, drop: (field: string) => boolean): Buffer {
  const end = headerEnd(head);
  if (end < 0) return head;
  const fields = head.subarray(0, end).toString('latin1').split(/\r\n(?![ \t])/);
  const kept = fields.filter((field) => !drop(field));
  if (kept.length === fields.length) return head;
  return Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), head.subarray(end)]);
}

/** The name of a header field as written (`X-Spam` of `X-Spam: Yes`), lower-cased. */
export const fieldName = (field: string): string => field.slice(0, Math.max(0, field.indexOf(':'))).trim().toLowerCase();

/** Whether a field is an Authentication-Results whose authserv-id is ours (RFC 8601 §5: a sender may not forge our verdict). */
export function isForgedAuthResults(field: string, authservId: string): boolean {
  const m = /^authentication-results\s*:\s*(?:\([^)]*\)\s*)?([^\s;]+)/i.exec(field);
  return m !== null && m[1].toLowerCase() === authservId.toLowerCase();
}

/** Drops Authentication-Results fields whose authserv-id is ours; `head` itself when there are none. */
export function removeForgedAuthResults(head: Buffer, authservId: string): Buffer {
  return removeHeaderFields(head, (field) => isForgedAuthResults(field, authservId));
}

/** The header fields of a header section (the section alone, without the empty line that ends it). */
export function headerFields(section: Buffer): HeaderField[] {
  return parseMessage(Buffer.concat([section, Buffer.from('\r\n')])).headers;
}

/** RFC 5322 §3.6.8: a field name is printable US-ASCII without colon. */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]{1,76}$/;

/**
 * A header field line (with CRLF) from a name and an unfolded value: non-ASCII text becomes RFC 2047 encoded words,
 * long lines are folded (RFC 5322 §2.2.3). Throws for a bad name or a value with line breaks.
 */
export function headerLine(name: string, value: string): string {
  if (!FIELD_NAME.test(name)) throw new TypeError(`"${name}" is not a header field name`);
  if (/[\r\n\0]/.test(value)) throw new TypeError(`the value of ${name} has a line break or NUL`);
  const ascii = /^[\x20-\x7e\t]*$/.test(value) ? value : libmime.encodeWords(value, 'Q', 52);
  return libmime.foldLines(`${name}: ${ascii.trim()}`, 76) + '\r\n';
}
