// Trace and authentication header handling for inbound mail: the Received line (RFC 5321 §4.4) and removal of
// Authentication-Results that claim to be ours (RFC 8601 §5) before we add our own.
import crypto from 'node:crypto';

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
}

export function receivedHeader(info: ReceivedInfo, date = new Date()): string {
  const ipLiteral = info.ip.includes(':') ? `IPv6:${info.ip}` : info.ip;
  const from = `from ${hostText(info.helo || 'unknown')} (${info.reverseName ? hostText(info.reverseName) + ' ' : ''}[${ipLiteral}])`;
  const by = `by ${info.hostname} (Postfach) with ${info.protocol} id ${info.queueId}`;
  const tls = info.tls ? `\r\n\t(${clean(info.tls).replace(/\?/g, ' ')})` : '';
  const forClause = info.recipients.length === 1 ? `\r\n\tfor <${clean(info.recipients[0])}>` : '';
  return `Received: ${from}\r\n\t${by}${tls}${forClause};\r\n\t${rfc5322Date(date)}\r\n`;
}

/** Offset just past the header block (after the empty line), or -1 when the block does not end within `head`. */
export function headerEnd(head: Buffer): number {
  if (head.length >= 2 && head[0] === 0x0d && head[1] === 0x0a) return 2;
  const i = head.indexOf('\r\n\r\n');
  return i < 0 ? -1 : i + 4;
}

/**
 * Drops Authentication-Results fields whose authserv-id is ours: a sender must not be able to forge our verdict
 * (RFC 8601 §5). Returns `head` itself when nothing was removed.
 */
export function removeForgedAuthResults(head: Buffer, authservId: string): Buffer {
  const end = headerEnd(head);
  if (end < 0) return head;
  const block = head.subarray(0, end).toString('latin1');
  if (!/^authentication-results\s*:/im.test(block)) return head;
  const fields = block.split(/\r\n(?![ \t])/);
  const ours = authservId.toLowerCase();
  const kept = fields.filter((field) => {
    const m = /^authentication-results\s*:\s*(?:\([^)]*\)\s*)?([^\s;]+)/i.exec(field);
    return !(m && m[1].toLowerCase() === ours);
  });
  if (kept.length === fields.length) return head;
  return Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), head.subarray(end)]);
}
