// DATA spool: collects a message from smtp-server's stream in memory (spilling large ones to a temp file) while
// checking what RFC 5321/5322 forbid — bare CR or LF (the SMTP smuggling vector), NUL bytes, over-long lines — and
// the size limit, past which nothing more is kept.
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { ReplyName } from './replies.js';
import type { BlobSource } from '../store/blobs.js';

const CR = 0x0d;
const LF = 0x0a;

export interface SpoolLimits {
  maxLineLength: number;
  /** past this many bytes the message is refused anyway: keep counting to the end of DATA, keep nothing more */
  maxMessageSize: number;
  /** bytes kept in memory before the rest goes to a temp file */
  memoryLimit: number;
}

export interface SpooledMessage {
  size: number;
  /** the first bytes (at most memoryLimit) in memory: the header block is read from here */
  head: Buffer;
  /** the rest, when the message was larger than memoryLimit */
  file: string | null;
  /** the first rule the content broke, if any */
  violation: ReplyName | null;
  /** the message as blob sources (head, then the file) */
  sources(): BlobSource[];
  /** the whole message in memory */
  read(): Promise<Buffer>;
  /** the whole message as a stream */
  stream(): Readable;
  discard(): Promise<void>;
}

export async function spoolMessage(stream: Readable, limits: SpoolLimits, tempPath: () => string): Promise<SpooledMessage> {
  const memory: Buffer[] = [];
  let memoryBytes = 0;
  let file: string | null = null;
  let out: fs.WriteStream | null = null;
  let size = 0;
  let violation: ReplyName | null = null;
  let prev = LF; // byte before the current chunk; the message starts at a line start
  let lineLength = 0;

  const check = (chunk: Buffer): void => {
    if (chunk.indexOf(0) >= 0) {
      violation = 'nulByte';
      return;
    }
    // RFC 5321 §2.3.8: CR and LF only ever appear together as CRLF.
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf < 0 ? chunk.length : lf;
      const cr = chunk.indexOf(CR, pos);
      if (cr >= 0 && cr < end - 1) {
        violation = 'bareLineEnding';
        return;
      }
      if (pos === 0 && prev === CR && chunk[0] !== LF) {
        violation = 'bareLineEnding';
        return;
      }
      if (lf >= 0) {
        const before = lf > 0 ? chunk[lf - 1] : prev;
        if (before !== CR) {
          violation = 'bareLineEnding';
          return;
        }
        lineLength += lf > pos ? lf - pos - 1 : 0; // excludes the CR (already excluded when it ended the last chunk)
        if (lineLength > limits.maxLineLength) {
          violation = 'lineTooLong';
          return;
        }
        lineLength = 0;
        pos = lf + 1;
      } else {
        lineLength += chunk.length - pos;
        if (chunk[chunk.length - 1] === CR) lineLength--;
        if (lineLength > limits.maxLineLength) {
          violation = 'lineTooLong';
          return;
        }
        pos = chunk.length;
      }
    }
    prev = chunk[chunk.length - 1];
  };

  try {
    for await (const piece of stream) {
      const chunk = piece as Buffer;
      size += chunk.length;
      if (violation) continue; // keep reading to the end of DATA, store nothing
      if (size > limits.maxMessageSize) {
        // RFC 1870: an oversize message never grows the temp file past the limit
        violation = 'messageTooBig';
        continue;
      }
      check(chunk);
      if (violation) continue;
      if (memoryBytes + chunk.length <= limits.memoryLimit && !out) {
        memory.push(chunk);
        memoryBytes += chunk.length;
        continue;
      }
      if (!out) {
        file = tempPath();
        out = fs.createWriteStream(file, { flags: 'wx', mode: 0o600 });
      }
      if (!out.write(chunk)) await new Promise<void>((resolve) => out!.once('drain', () => resolve()));
    }
    if (!violation && prev === CR) violation = 'bareLineEnding';
  } finally {
    if (out) await new Promise<void>((resolve, reject) => out!.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }

  const head = Buffer.concat(memory, memoryBytes);
  const spoolFile = file;
  return {
    size,
    head,
    file: spoolFile,
    violation,
    sources: () => (spoolFile ? [head, { file: spoolFile }] : [head]),
    read: async () => (spoolFile ? Buffer.concat([head, await fsp.readFile(spoolFile)]) : head),
    stream: () =>
      Readable.from(
        (async function* () {
          yield head;
          if (spoolFile) yield* fs.createReadStream(spoolFile);
        })()
      ),
    discard: async () => {
      if (spoolFile) await fsp.rm(spoolFile, { force: true });
    }
  };
}
