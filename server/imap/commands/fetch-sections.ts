// Pieces of FETCH body data: header field selection (HEADER.FIELDS[.NOT]), transfer-decoding for BINARY (RFC 3516),
// and the INTERNALDATE format.
import { decodeQuotedPrintable } from '../../store/search-text.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** date-time as RFC 9051 §9 writes it: "22-Nov-2026 20:05:09 +0000" (day padded with a space). */
export function internalDateString(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${String(d.getUTCDate()).padStart(2, ' ')}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** The header fields named (or all but those named) with their continuation lines, then the blank line (RFC 9051 §6.4.5). */
export function headerFields(block: Buffer, names: string[], exclude: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const text = block.toString('latin1');
  const out: string[] = [];
  let keep = false;
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    if (line[0] === ' ' || line[0] === '\t') {
      if (keep) out.push(line);
      continue;
    }
    const colon = line.indexOf(':');
    const name = (colon > 0 ? line.slice(0, colon) : line).trim().toLowerCase();
    keep = wanted.has(name) !== exclude;
    if (keep) out.push(line);
  }
  return Buffer.from(out.map((l) => l + '\r\n').join('') + '\r\n', 'latin1');
}

/** Decoded content of a leaf part for BINARY; null for an encoding we cannot undo ([UNKNOWN-CTE]). */
export function decodeTransferEncoding(body: Buffer, encoding: string): Buffer | null {
  switch (encoding.toUpperCase()) {
    case '7BIT':
    case '8BIT':
    case 'BINARY':
      return body;
    case 'BASE64':
      return Buffer.from(body.toString('latin1').replace(/[^A-Za-z0-9+/=]/g, ''), 'base64');
    case 'QUOTED-PRINTABLE':
      return decodeQuotedPrintable(body);
    default:
      return null;
  }
}
