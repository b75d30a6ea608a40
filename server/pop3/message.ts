// RETR and TOP responses (RFC 1939 §7): the stored message streamed with CRLF line endings, byte-stuffed (a line
// starting with "." gets another), optionally cut after the header and n body lines, ended by a "." line.
import fsp from 'node:fs/promises';
import { CrlfNormalizer } from '../store/crlf.js';
import { messageExists, type MaildropMessage } from '../store/maildrop.js';
import { refuse } from './errors.js';
import type { Pop3Session } from './session.js';

const LF = 0x0a;
const DOT = Buffer.from('.');
const EMPTY = Buffer.alloc(0);
/** Messages up to this size are read whole; larger ones are streamed in chunks of it. */
const SMALL_MESSAGE = 256 * 1024;

/** Byte-stuffing of a CRLF-clean stream (RFC 1939 §3): a "." starting a line is doubled. */
export class DotStuffer {
  private atLineStart = true;

  push(chunk: Buffer): Buffer {
    if (!chunk.length) return chunk;
    const parts: Buffer[] = [];
    let start = 0;
    if (this.atLineStart && chunk[0] === DOT[0]) parts.push(DOT);
    for (let i = chunk.indexOf('\n.'); i >= 0; i = chunk.indexOf('\n.', i + 1)) {
      parts.push(chunk.subarray(start, i + 1), DOT);
      start = i + 1;
    }
    this.atLineStart = chunk[chunk.length - 1] === LF;
    if (!parts.length) return chunk;
    parts.push(chunk.subarray(start));
    return Buffer.concat(parts);
  }
}

/** TOP's cut of a CRLF-clean stream: the header, the blank line after it, then `lines` lines of the body. */
export class TopCutter {
  private inBody = false;
  /** octets of the current line read in earlier chunks */
  private carry = 0;
  done = false;

  constructor(private left: number) {}

  push(chunk: Buffer): Buffer {
    if (this.done) return EMPTY;
    let from = 0;
    for (let lf = chunk.indexOf(LF); lf >= 0; lf = chunk.indexOf(LF, lf + 1)) {
      const length = this.carry + (lf - from); // the line before its LF, CR included
      this.carry = 0;
      from = lf + 1;
      if (!this.inBody) {
        if (length > 1) continue;
        this.inBody = true;
        if (this.left === 0) return this.finish(chunk, lf + 1);
      } else if (--this.left === 0) return this.finish(chunk, lf + 1);
    }
    this.carry += chunk.length - from;
    return chunk;
  }

  private finish(chunk: Buffer, end: number): Buffer {
    this.done = true;
    return chunk.subarray(0, end);
  }
}

/**
 * Sends message `number` as a multi-line response. The file is opened before the +OK, so a message another session
 * expunged (and whose file went) gets an -ERR instead of a broken response; once open, it stays readable to the end.
 */
export async function sendMessage(session: Pop3Session, number: number, message: MaildropMessage, bodyLines?: number): Promise<void> {
  const { blobs, db } = session.ctx.services;
  const gone = () => refuse(`Message ${number} was deleted by another session`);
  if (!(await messageExists(db, session.maildrop!.mailbox.id, message.uid))) throw gone();
  const handle = await fsp.open(blobs.path(message.blobId), 'r').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw gone();
    throw err;
  });
  try {
    session.write(bodyLines === undefined ? `+OK ${message.size} octets\r\n` : '+OK Top of message follows\r\n');
    const normalizer = new CrlfNormalizer();
    const cutter = bodyLines === undefined ? null : new TopCutter(bodyLines);
    const stuffer = new DotStuffer();
    const send = async (bytes: Buffer) => {
      const out = stuffer.push(cutter ? cutter.push(bytes) : bytes);
      if (out.length && !session.write(out)) await session.drain();
    };
    // most messages are read in one go; large ones stream in 256 KiB chunks so memory stays bounded
    const chunks = message.size <= SMALL_MESSAGE ? [await handle.readFile()] : handle.createReadStream({ autoClose: false, highWaterMark: SMALL_MESSAGE });
    for await (const chunk of chunks) {
      if (session.isClosed) return;
      await send(normalizer.push(chunk as Buffer));
      if (cutter?.done) break;
    }
    if (!cutter?.done) await send(normalizer.end());
    session.write('.\r\n');
  } finally {
    await handle.close();
  }
}
