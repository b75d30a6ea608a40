// IMAP command parser (RFC 9051 §2.2, §4, §9; RFC 3501 §9): bytes in, typed commands out. Literals are streamed
// (synchronizing, LITERAL+/LITERAL- from RFC 7888, literal8 from RFC 3516) and every size a client controls is bounded.

export type ImapValue =
  /** e.g. BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.1024>, BINARY[1.2], \Seen, 1:* (NIL is separate) */
  | { type: 'atom'; value: string; section?: ImapValue[]; partial?: { start: number; length: number | null } }
  /** quoted, {n} literal, {n+} literal, ~{n} literal8 (RFC 3516) */
  | { type: 'string'; value: Buffer; literal: boolean; binary?: boolean }
  | { type: 'nil' }
  | { type: 'list'; items: ImapValue[] };

export interface ImapCommand {
  tag: string;
  /** upper-case; "UID" keeps its sub-command as the first atom argument */
  name: string;
  args: ImapValue[];
  /** bytes on the wire, line ends and literals included */
  size: number;
}

export interface ParserLimits {
  /** one line excluding literals and its line end (e.g. 64 KiB) */
  maxLineLength: number;
  /** one literal (e.g. APPENDLIMIT) */
  maxLiteralSize: number;
  /** the whole command, literals included */
  maxCommandSize: number;
  /** parenthesized lists and [sections] inside each other (e.g. 16) */
  maxNesting: number;
  /** values in one command, lists included (e.g. 100000) */
  maxValues: number;
}

export type ParserEvent =
  | { kind: 'command'; command: ImapCommand }
  /** a synchronizing literal was accepted: the session must send "+ Ready for literal data" now */
  | { kind: 'continue' }
  /** BAD; fatal: the session must send BYE and close, nothing more is parsed */
  | { kind: 'error'; tag: string | null; message: string; fatal: boolean }
  /** a raw line (rawMode: IDLE's DONE, AUTHENTICATE responses), without its line end */
  | { kind: 'line'; line: Buffer };

type Atom = Extract<ImapValue, { type: 'atom' }>;

/** RFC 7888 §4: where only LITERAL- is advertised, a non-synchronizing literal carries at most 4096 octets. */
export const LITERAL_MINUS_LIMIT = 4096;

/** FETCH attributes that take a [section] (RFC 9051 §6.4.5, RFC 3516 §4); elsewhere "[" and "]" are atom characters. */
const SECTION_ATOMS = new Set(['BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE']);
const LONGEST_SECTION_ATOM = 11;

const LF = 0x0a, CR = 0x0d, SP = 0x20, DQUOTE = 0x22, PLUS = 0x2b, DOT = 0x2e, LT = 0x3c, GT = 0x3e;
const LPAREN = 0x28, RPAREN = 0x29, LBRACKET = 0x5b, BACKSLASH = 0x5c, RBRACKET = 0x5d, LBRACE = 0x7b, RBRACE = 0x7d, TILDE = 0x7e;

/** Any visible ASCII but ( ) { " : ATOM-CHAR plus list-wildcards, "\" (flags), "]" (ASTRING-CHAR); handlers narrow. */
const ATOM = 1;
/** ATOM-CHAR (RFC 9051 §9): command names. */
const NAME = 2;
/** tag = 1*<any ASTRING-CHAR except "+"> (RFC 9051 §9). */
const TAG = 4;
const CHAR_CLASS = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) {
  const ch = String.fromCharCode(c);
  if (!'(){"'.includes(ch)) CHAR_CLASS[c] |= ATOM;
  if (!'(){%*"\\]'.includes(ch)) CHAR_CLASS[c] |= NAME;
  if (!'(){%*"\\+'.includes(ch)) CHAR_CLASS[c] |= TAG;
}

/** A malformed command: answered with BAD, then the parser resyncs at the command's end. */
class Malformed extends Error {
  constructor(message: string, readonly tag?: string | null) {
    super(message);
  }
}

interface Frame {
  items: ImapValue[];
  /** the byte that closes it: ")" for a list, "]" for a section, 0 for the argument list itself */
  close: number;
  /** the atom a section belongs to: its <partial> follows the "]" */
  owner?: Atom;
}

interface CommandInProgress {
  tag: string;
  name: string;
  args: ImapValue[];
  size: number;
  /** open containers; stack[0] is the argument list */
  stack: Frame[];
  values: number;
  /** a value just ended: the next one needs a space first */
  needSpace: boolean;
}

interface LiteralInProgress {
  pieces: Buffer[];
  /** small pieces are copied into blocks, so a client trickling bytes does not cost an object per push */
  block: Buffer | null;
  blockUsed: number;
  received: number;
  length: number;
  binary: boolean;
}

/** Size of the blocks small literal pieces are gathered in; larger pieces are kept as they came. */
const LITERAL_BLOCK = 64 * 1024;

/** `{n}`, `{n+}`, `~{n}` or `~{n+}` ending a line (RFC 9051 §4.3, RFC 7888 §3, RFC 3516 §4). */
function trailingLiteral(line: Buffer): { start: number; length: number; nonSync: boolean; binary: boolean } | null {
  let i = line.length - 1;
  if (i < 2 || line[i] !== RBRACE) return null;
  i--;
  const nonSync = line[i] === PLUS;
  if (nonSync) i--;
  const last = i;
  while (i >= 0 && line[i] >= 0x30 && line[i] <= 0x39) i--;
  if (i === last || i < 0 || line[i] !== LBRACE) return null;
  // number allows leading zeros; past 15 significant digits it is over every limit anyway
  let first = i + 1;
  while (first < last && line[first] === 0x30) first++;
  const length = last + 1 - first > 15 ? Infinity : Number(line.toString('latin1', first, last + 1));
  const binary = i > 0 && line[i - 1] === TILDE;
  return { start: binary ? i - 1 : i, length, nonSync, binary };
}

/** number / number64 (RFC 9051 §9) kept within safe integers; returns the value and the index after it. */
function readNumber(line: Buffer, i: number): [number, number] {
  const start = i;
  while (line[i] >= 0x30 && line[i] <= 0x39) i++;
  if (i === start || i - start > 16) throw new Malformed('Invalid number');
  const value = Number(line.toString('latin1', start, i));
  if (!Number.isSafeInteger(value)) throw new Malformed('Number out of range');
  return [value, i];
}

/**
 * Streaming IMAP command parser. Decisions the session relies on:
 * - A line ends at LF; a CR before it is dropped. Bare LF is accepted because clients are sloppy (RFC 9051 §2.2
 *   asks for CRLF). Blank lines between commands are ignored.
 * - A line (excluding literals) longer than maxLineLength is fatal, decided as soon as the limit is crossed, so the
 *   outcome does not depend on how TCP split the bytes and nothing past the limit is buffered.
 * - A synchronizing literal over maxLiteralSize or maxCommandSize: non-fatal BAD [TOOBIG]; the client, denied its
 *   continuation, sends neither the literal nor the rest of the command (RFC 9051 §7.5), so the next line is a new one.
 * - A non-synchronizing literal is sent regardless, so after any error its bytes are skipped (counted, never
 *   buffered) up to maxLiteralSize and the rest of the command is dropped; one over maxLiteralSize is fatal (RFC 7888 §4
 *   lets the server close). Without literalPlus, {n+} over 4096 octets is BAD [TOOBIG] (LITERAL-, RFC 7888 §4).
 * - Other malformed input: non-fatal BAD (tagged when the tag was read), resync at the end of the command.
 * - Atoms are 7-bit; 8-bit text is accepted in quoted strings and literals only and is not checked for UTF-8.
 *   "NIL" becomes { type: 'nil' } wherever it stands; astring readers must take it as the name "NIL".
 * - "[" opens a section only after BODY, BODY.PEEK, BINARY, BINARY.PEEK and BINARY.SIZE; `BODY[]` has section [].
 */
export class CommandParser {
  /** while true, complete lines between commands are delivered as { kind: 'line' } */
  rawMode = false;

  /** may be replaced between commands (the session raises the literal limits after login) */
  limits: ParserLimits;
  private readonly literalPlus: boolean;
  /** bytes of the current line before its LF arrived, copied (never pins the caller's chunks), grown by doubling */
  private lineBuffer: Buffer | null = null;
  private lineLength = 0;
  private command: CommandInProgress | null = null;
  private literal: LiteralInProgress | null = null;
  /** the rest of a rejected command is being read and dropped */
  private discarding = false;
  private skipRemaining = 0;
  private dead = false;

  constructor(limits: ParserLimits, options: { literalPlus?: boolean } = {}) {
    this.limits = limits;
    this.literalPlus = options.literalPlus ?? false;
  }

  /** Feeds bytes (split anywhere); returns the events they complete, in order. */
  push(chunk: Buffer): ParserEvent[] {
    const events: ParserEvent[] = [];
    let pos = 0;
    while (pos < chunk.length && !this.dead) {
      if (this.literal) pos = this.readLiteral(chunk, pos);
      else if (this.skipRemaining > 0) {
        const n = Math.min(this.skipRemaining, chunk.length - pos);
        this.skipRemaining -= n;
        pos += n;
      } else pos = this.readLine(chunk, pos, events);
    }
    return events;
  }

  private readLine(chunk: Buffer, pos: number, events: ParserEvent[]): number {
    // what this line may still take: maxLineLength, plus the CR before LF
    const allowed = this.limits.maxLineLength + 1 - this.lineLength;
    const found = chunk.indexOf(LF, pos);
    if ((found < 0 ? chunk.length : found) - pos > allowed) {
      this.fatal('Line too long', this.pendingTag(chunk.subarray(pos, pos + 256)), events);
      return chunk.length;
    }
    if (found < 0) {
      this.keepLinePart(chunk.subarray(pos));
      return chunk.length;
    }
    const lf = found - pos;
    let line = chunk.subarray(pos, pos + lf);
    if (this.lineLength) {
      // the line is parsed from the buffer right away: values copy what they keep, so it is reused afterwards
      this.keepLinePart(line);
      line = this.lineBuffer!.subarray(0, this.lineLength);
      this.lineLength = 0;
      if (this.lineBuffer!.length > 4096) this.lineBuffer = null;
    }
    let terminator = 1;
    if (line.length && line[line.length - 1] === CR) {
      line = line.subarray(0, line.length - 1);
      terminator = 2;
    }
    if (line.length > this.limits.maxLineLength) {
      this.fatal('Line too long', this.pendingTag(line), events);
      return chunk.length;
    }
    this.onLine(line, terminator, events);
    return pos + lf + 1;
  }

  private keepLinePart(part: Buffer): void {
    const needed = this.lineLength + part.length;
    if (!this.lineBuffer || this.lineBuffer.length < needed) {
      const size = Math.min(Math.max(256, needed, (this.lineBuffer?.length ?? 0) * 2), this.limits.maxLineLength + 1);
      const grown = Buffer.allocUnsafe(size);
      this.lineBuffer?.copy(grown, 0, 0, this.lineLength);
      this.lineBuffer = grown;
    }
    part.copy(this.lineBuffer, this.lineLength);
    this.lineLength = needed;
  }

  private onLine(line: Buffer, terminator: number, events: ParserEvent[]): void {
    if (this.discarding) return this.discardRest(line, events);
    if (!this.command) {
      if (this.rawMode) {
        events.push({ kind: 'line', line: Buffer.from(line) });
        return;
      }
      if (!line.length) return;
    }
    try {
      let start = 0;
      if (!this.command) [this.command, start] = this.begin(line);
      const command = this.command;
      command.size += line.length + terminator;
      if (command.size > this.limits.maxCommandSize) throw new Malformed('[TOOBIG] Command too large');
      this.parseValues(command, line, start, events);
    } catch (err) {
      if (!(err instanceof Malformed)) throw err;
      const tag = err.tag !== undefined ? err.tag : (this.command?.tag ?? null);
      this.command = null;
      events.push({ kind: 'error', tag, message: err.message, fatal: false });
      this.discardRest(line, events);
    }
  }

  /** tag SP command-name (RFC 9051 §9 command); returns the command and where its arguments start. */
  private begin(line: Buffer): [CommandInProgress, number] {
    let i = 0;
    while (i < line.length && CHAR_CLASS[line[i]] & TAG) i++;
    if (i === 0 || (i < line.length && line[i] !== SP)) throw new Malformed('Invalid tag', null);
    const tag = line.toString('latin1', 0, i);
    const start = ++i;
    while (i < line.length && CHAR_CLASS[line[i]] & NAME) i++;
    if (i === start) throw new Malformed('Missing command name', tag);
    if (i < line.length && line[i] !== SP) throw new Malformed('Invalid command name', tag);
    const args: ImapValue[] = [];
    const command = { tag, name: line.toString('latin1', start, i).toUpperCase(), args, size: 0, stack: [{ items: args, close: 0 }], values: 0, needSpace: false };
    return [command, i];
  }

  /** Reads values up to the end of one line: the command is complete, or a literal follows. */
  private parseValues(command: CommandInProgress, line: Buffer, i: number, events: ParserEvent[]): void {
    const end = line.length;
    while (i < end) {
      const c = line[i];
      const frame = command.stack[command.stack.length - 1];
      if (c === SP) {
        command.needSpace = false;
        i++;
        continue;
      }
      if (c === RPAREN || (c === RBRACKET && frame.close === RBRACKET)) {
        if (frame.close !== c) throw new Malformed(frame.close ? 'Missing ]' : 'Unexpected )');
        command.stack.pop();
        i++;
        if (c === RBRACKET && line[i] === LT) i = this.partial(frame.owner!, line, i);
        command.needSpace = true;
        continue;
      }
      if (command.needSpace) throw new Malformed('Expected a space between arguments');
      if (++command.values > this.limits.maxValues) throw new Malformed('Too many arguments');
      if (c === LPAREN) {
        this.checkNesting(command);
        const items: ImapValue[] = [];
        frame.items.push({ type: 'list', items });
        command.stack.push({ items, close: RPAREN });
        i++;
      } else if (c === DQUOTE) {
        i = this.quoted(frame, line, i);
        command.needSpace = true;
      } else if (c === LBRACE || (c === TILDE && line[i + 1] === LBRACE)) {
        this.beginLiteral(command, line, i, events);
        return;
      } else {
        i = this.atom(command, frame, line, i);
      }
    }
    const open = command.stack.length - 1;
    if (open) throw new Malformed(command.stack[open].close === RPAREN ? 'Missing )' : 'Missing ]');
    this.command = null;
    events.push({ kind: 'command', command: { tag: command.tag, name: command.name, args: command.args, size: command.size } });
  }

  private checkNesting(command: CommandInProgress): void {
    if (command.stack.length > this.limits.maxNesting) throw new Malformed('Too deeply nested');
  }

  /** atom, NIL, or a section-taking FETCH attribute whose "[" opens a section. */
  private atom(command: CommandInProgress, frame: Frame, line: Buffer, i: number): number {
    const start = i;
    const inSection = frame.close === RBRACKET;
    let section = false;
    for (; i < line.length; i++) {
      const c = line[i];
      if (!(CHAR_CLASS[c] & ATOM) || (c === RBRACKET && inSection)) break;
      if (c === LBRACKET && i - start <= LONGEST_SECTION_ATOM && SECTION_ATOMS.has(line.toString('latin1', start, i).toUpperCase())) {
        section = true;
        break;
      }
    }
    if (!section && i < line.length) {
      const c = line[i];
      if (c !== SP && c !== RPAREN && !(c === RBRACKET && inSection)) throw new Malformed('Invalid character in atom');
    }
    const text = line.toString('latin1', start, i);
    if (!section && text.length === 3 && text.toUpperCase() === 'NIL') {
      frame.items.push({ type: 'nil' });
      command.needSpace = true;
      return i;
    }
    const atom: Atom = { type: 'atom', value: text };
    frame.items.push(atom);
    if (!section) {
      command.needSpace = true;
      return i;
    }
    this.checkNesting(command);
    atom.section = [];
    command.stack.push({ items: atom.section, close: RBRACKET, owner: atom });
    command.needSpace = false;
    return i + 1;
  }

  /** "<" number64 ["." nz-number64] ">" after a section (RFC 9051 §6.4.5 partial). */
  private partial(owner: Atom, line: Buffer, i: number): number {
    let start: number;
    let length: number | null = null;
    [start, i] = readNumber(line, i + 1);
    if (line[i] === DOT) {
      [length, i] = readNumber(line, i + 1);
      if (length === 0) throw new Malformed('Invalid partial');
    }
    if (line[i] !== GT) throw new Malformed('Invalid partial');
    owner.partial = { start, length };
    return i + 1;
  }

  /** quoted = DQUOTE *QUOTED-CHAR DQUOTE with only \" and \\ escaped (RFC 9051 §9); 8-bit accepted. */
  private quoted(frame: Frame, line: Buffer, i: number): number {
    const start = i + 1;
    let escapes = 0;
    let j = start;
    for (; ; j++) {
      if (j >= line.length) throw new Malformed('Unterminated quoted string');
      const c = line[j];
      if (c === DQUOTE) break;
      if (c === BACKSLASH) {
        const next = line[++j];
        if (next !== DQUOTE && next !== BACKSLASH) throw new Malformed('Invalid escape in quoted string');
        escapes++;
      } else if (c === 0 || c === CR) throw new Malformed('Invalid character in quoted string');
    }
    let value: Buffer;
    if (!escapes) value = Buffer.from(line.subarray(start, j));
    else {
      value = Buffer.allocUnsafe(j - start - escapes);
      for (let from = start, to = 0; from < j; from++) {
        if (line[from] === BACKSLASH) from++;
        value[to++] = line[from];
      }
    }
    frame.items.push({ type: 'string', value, literal: false });
    return j + 1;
  }

  /** A literal header ends the line; its bytes follow (after "+ Ready" for a synchronizing one). */
  private beginLiteral(command: CommandInProgress, line: Buffer, i: number, events: ParserEvent[]): void {
    const header = trailingLiteral(line);
    if (!header || header.start !== i) throw new Malformed('Invalid literal');
    const { length, nonSync, binary } = header;
    const limits = this.limits;
    if (nonSync && length > limits.maxLiteralSize) {
      this.fatal('[TOOBIG] Literal too large', command.tag, events);
      return;
    }
    if (length > limits.maxLiteralSize || command.size + length > limits.maxCommandSize) throw new Malformed('[TOOBIG] Literal too large');
    if (nonSync && !this.literalPlus && length > LITERAL_MINUS_LIMIT) {
      throw new Malformed('[TOOBIG] Non-synchronizing literals over 4096 octets must be synchronizing (LITERAL-)');
    }
    if (!nonSync) events.push({ kind: 'continue' });
    command.size += length;
    this.literal = { pieces: [], block: null, blockUsed: 0, received: 0, length, binary };
    if (length === 0) this.endLiteral();
  }

  private readLiteral(chunk: Buffer, pos: number): number {
    const literal = this.literal!;
    const n = Math.min(literal.length - literal.received, chunk.length - pos);
    const piece = chunk.subarray(pos, pos + n);
    literal.received += n;
    if (n >= LITERAL_BLOCK / 2 && n * 2 >= piece.buffer.byteLength) {
      // a large piece that is most of its own memory is kept as it came: no copy until the end
      this.flushBlock(literal);
      literal.pieces.push(piece);
    } else {
      for (let copied = 0; copied < n; ) {
        if (!literal.block || literal.blockUsed === literal.block.length) {
          this.flushBlock(literal);
          // never more than the bytes still to come: a declared size alone allocates nothing large
          literal.block = Buffer.allocUnsafe(Math.min(LITERAL_BLOCK, literal.length - literal.received + n - copied));
        }
        const take = piece.copy(literal.block, literal.blockUsed, copied);
        literal.blockUsed += take;
        copied += take;
      }
    }
    if (literal.received === literal.length) this.endLiteral();
    return pos + n;
  }

  private flushBlock(literal: LiteralInProgress): void {
    if (literal.block && literal.blockUsed) literal.pieces.push(literal.block.subarray(0, literal.blockUsed));
    literal.block = null;
    literal.blockUsed = 0;
  }

  private endLiteral(): void {
    const literal = this.literal!;
    const command = this.command!;
    this.literal = null;
    this.flushBlock(literal);
    const value = Buffer.concat(literal.pieces, literal.length);
    command.stack[command.stack.length - 1].items.push(literal.binary ? { type: 'string', value, literal: true, binary: true } : { type: 'string', value, literal: true });
    command.needSpace = true;
  }

  /**
   * After an error the rest of the command is dropped. A line ending in a non-synchronizing literal is followed by
   * its bytes whatever we answer, so they are skipped (never taken for commands); a synchronizing one ends the command.
   */
  private discardRest(line: Buffer, events: ParserEvent[]): void {
    this.discarding = false;
    const header = trailingLiteral(line);
    if (!header?.nonSync) return;
    if (header.length > this.limits.maxLiteralSize) {
      this.fatal('[TOOBIG] Literal too large', null, events);
      return;
    }
    this.discarding = true;
    this.skipRemaining = header.length;
  }

  private fatal(message: string, tag: string | null, events: ParserEvent[]): void {
    this.dead = true;
    this.command = null;
    this.literal = null;
    this.lineBuffer = null;
    events.push({ kind: 'error', tag, message, fatal: true });
  }

  /** The tag of the command a runaway line belongs to, when it can be told. */
  private pendingTag(rest: Buffer): string | null {
    if (this.command) return this.command.tag;
    if (this.discarding || this.rawMode) return null;
    const head = this.lineLength ? Buffer.concat([this.lineBuffer!.subarray(0, Math.min(this.lineLength, 256)), rest]) : rest;
    let i = 0;
    while (i < head.length && CHAR_CLASS[head[i]] & TAG) i++;
    return i > 0 && head[i] === SP ? head.toString('latin1', 0, i) : null;
  }
}
