// A message as lines ended by CRLF (RFC 5322 §2.1): what POP3 sends (RFC 1939 §3) whatever the stored bytes hold.
// Messages from SMTP are CRLF already (bare CR and LF are refused there); IMAP APPEND and imports may bring bare LF.
const CR = 0x0d;
const LF = 0x0a;
const CRLF = Buffer.from('\r\n');
const EMPTY = Buffer.alloc(0);

/**
 * Rewrites a byte stream chunk by chunk: a bare LF or a bare CR becomes CRLF, and a last line without an ending gets
 * one. A CR at the end of a chunk is held back until the next byte shows whether an LF follows it. Clean chunks (the
 * usual case) pass through without a copy.
 */
export class CrlfNormalizer {
  private pendingCr = false;
  private written = 0;
  private endsWithLf = false;

  /** Octets produced so far. */
  get size(): number {
    return this.written;
  }

  push(input: Buffer): Buffer {
    let chunk = input;
    const parts: Buffer[] = [];
    if (this.pendingCr) {
      this.pendingCr = false;
      parts.push(CRLF);
      if (chunk[0] === LF) chunk = chunk.subarray(1);
    }
    if (chunk.length && chunk[chunk.length - 1] === CR) {
      this.pendingCr = true;
      chunk = chunk.subarray(0, chunk.length - 1);
    }
    if (clean(chunk)) parts.push(chunk);
    else parts.push(...rewrite(chunk));
    return this.emit(parts.length === 1 ? parts[0] : Buffer.concat(parts));
  }

  /** What the stream still owes at its end: the held-back CR's LF, or CRLF after an unterminated last line. */
  end(): Buffer {
    if (this.pendingCr) {
      this.pendingCr = false;
      return this.emit(CRLF);
    }
    return this.written > 0 && !this.endsWithLf ? this.emit(CRLF) : EMPTY;
  }

  private emit(out: Buffer): Buffer {
    if (out.length) {
      this.written += out.length;
      this.endsWithLf = out[out.length - 1] === LF;
    }
    return out;
  }
}

/** Every LF preceded by CR and every CR followed by LF (the chunk holds no trailing CR). */
function clean(chunk: Buffer): boolean {
  for (let i = chunk.indexOf(LF); i >= 0; i = chunk.indexOf(LF, i + 1)) if (i === 0 || chunk[i - 1] !== CR) return false;
  for (let i = chunk.indexOf(CR); i >= 0; i = chunk.indexOf(CR, i + 1)) if (chunk[i + 1] !== LF) return false;
  return true;
}

function rewrite(chunk: Buffer): Buffer[] {
  const parts: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i];
    if (byte === CR && chunk[i + 1] === LF) i++;
    else if (byte === CR || byte === LF) {
      parts.push(chunk.subarray(start, i), CRLF);
      start = i + 1;
    }
  }
  parts.push(chunk.subarray(start));
  return parts;
}

/** Octets of the message with CRLF line endings: what POP3 LIST and STAT count and RETR sends before dot-stuffing. */
export function crlfSize(raw: Buffer): number {
  const normalizer = new CrlfNormalizer();
  normalizer.push(raw);
  normalizer.end();
  return normalizer.size;
}
