// POP3 input as lines (RFC 1939 §3: commands end with CRLF) and the line limits: RFC 2449 §4's 255 octets for
// commands, more for the lines that carry credentials, and a line past MAX_LINE dropped as it arrives.
import { malformed } from './errors.js';

/**
 * Longest line read, line ending included. RFC 2449 §4 keeps commands within 255 octets, but a PASS line carries a password
 * of up to 1024 octets and an AUTH PLAIN response its base64 (~1.8 KB with a long address); longer is never needed.
 */
export const MAX_LINE = 4096;
/** RFC 2449 §4: a command line is at most 255 octets, its CRLF included. */
export const MAX_COMMAND = 255;
/**
 * Commands that carry credentials may use up to MAX_LINE: a password of the policy's 256 characters does not fit into
 * 255 octets after "PASS ", an address of 254 octets not after "USER ", and clients that send an AUTH initial response
 * longer than RFC 5034 §4 allows are better served than refused (SASL responses on lines of their own have no limit there).
 */
const CREDENTIAL_COMMANDS = new Set(['USER', 'PASS', 'AUTH']);

export type InputEvent = { kind: 'line'; line: string } | { kind: 'too-long' };

/** The answer to a line past MAX_LINE (or a command line past MAX_COMMAND): an -ERR, and the session goes on. */
export const lineTooLong = (limit: number) => malformed(`Line too long (at most ${limit} octets)`);

/** Throws lineTooLong when a command line (keyword `name`) is past RFC 2449's limit and carries no credentials. */
export function checkCommandLength(line: string, name: string): void {
  if (Buffer.byteLength(line) + 2 > MAX_COMMAND && !CREDENTIAL_COMMANDS.has(name)) throw lineTooLong(MAX_COMMAND);
}

/** Splits a byte stream into lines; a line past MAX_LINE is never buffered, only reported once its LF arrives. */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private discarding = false;

  /** The lines `chunk` completes, in order; a partial last line waits for the next chunk. */
  push(chunk: Buffer): InputEvent[] {
    const events: InputEvent[] = [];
    let start = 0;
    for (let lf = chunk.indexOf(0x0a); lf >= 0; lf = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, lf);
      start = lf + 1;
      if (this.discarding || this.pendingBytes + piece.length + 1 > MAX_LINE) {
        this.reset();
        events.push({ kind: 'too-long' });
        continue;
      }
      const bytes = this.pending.length ? Buffer.concat([...this.pending, piece]) : piece;
      this.reset();
      // RFC 1939 §3: lines end with CRLF; a bare LF is taken as well, as most servers do
      const end = bytes.length && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
      events.push({ kind: 'line', line: bytes.toString('utf8', 0, end) });
    }
    const tail = chunk.subarray(start);
    if (tail.length && !this.discarding) {
      if (this.pendingBytes + tail.length + 1 > MAX_LINE) {
        this.reset();
        this.discarding = true;
      } else {
        this.pending.push(tail);
        this.pendingBytes += tail.length;
      }
    }
    return events;
  }

  /** Forgets a partial line (STLS: nothing sent before the handshake counts). */
  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
    this.discarding = false;
  }
}
