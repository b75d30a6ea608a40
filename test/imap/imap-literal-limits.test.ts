// Threat: resource exhaustion through the IMAP command parser: literal bombs (declared sizes far beyond any limit,
// synchronizing and non-synchronizing, RFC 7888 §4 LITERAL-), commands grown past their size through literals, deep
// nesting, endless lines without CRLF, value floods, and inputs that would make a naive parser quadratic. Each must
// produce the right event at once, buffer nothing beyond its limit, and (unless fatal) leave the parser in sync.
// Where a naive parser would be slow, the test counts what it copies and decodes rather than timing it.
import { describe, expect, it } from 'vitest';
import { CommandParser, type ParserEvent, type ParserLimits } from '../../server/imap/parser.js';
import { countBufferWork } from '../helpers/work.js';

const LIMITS: ParserLimits = { maxLineLength: 64 * 1024, maxLiteralSize: 1024 * 1024, maxCommandSize: 2 * 1024 * 1024, maxNesting: 16, maxValues: 100_000 };
const NOOP: ParserEvent = { kind: 'command', command: { tag: 'A2', name: 'NOOP', args: [], size: 9 } };

const parser = (limits: Partial<ParserLimits> = {}, literalPlus = true) => new CommandParser({ ...LIMITS, ...limits }, { literalPlus });

function bytewise(p: CommandParser, data: Buffer): ParserEvent[] {
  const events: ParserEvent[] = [];
  for (let i = 0; i < data.length; i++) events.push(...p.push(data.subarray(i, i + 1)));
  return events;
}

describe('literal bombs', () => {
  it('refuses a synchronizing {999999999999} without a continuation; the client sends nothing and the next command works', () => {
    const events = parser().push(Buffer.from('A1 APPEND INBOX {999999999999}\r\nA2 NOOP\r\n'));
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: '[TOOBIG] Literal too large', fatal: false }, NOOP]);
  });

  it('refuses an octet count longer than any number', () => {
    const events = parser().push(Buffer.from(`A1 LOGIN {${'9'.repeat(50_000)}}\r\nA2 NOOP\r\n`));
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: '[TOOBIG] Literal too large', fatal: false }, NOOP]);
  });

  it('refuses a synchronizing literal one octet over maxLiteralSize and accepts one at it', () => {
    expect(parser().push(Buffer.from(`A1 APPEND INBOX {${LIMITS.maxLiteralSize + 1}}\r\n`))).toEqual([
      { kind: 'error', tag: 'A1', message: '[TOOBIG] Literal too large', fatal: false }
    ]);
    expect(parser().push(Buffer.from(`A1 APPEND INBOX {${LIMITS.maxLiteralSize}}\r\n`))).toEqual([{ kind: 'continue' }]);
  });

  it('closes on a non-synchronizing {999999999999+}: its bytes follow whatever we answer', () => {
    const p = parser();
    const events = p.push(Buffer.from('A1 APPEND INBOX {999999999999+}\r\nA2 NOOP\r\n'));
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: '[TOOBIG] Literal too large', fatal: true }]);
    expect(p.push(Buffer.from('A3 NOOP\r\n'))).toEqual([]);
  });

  it('closes on {n+} one octet over maxLiteralSize', () => {
    const events = parser().push(Buffer.from(`A1 APPEND INBOX {${LIMITS.maxLiteralSize + 1}+}\r\n`));
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: '[TOOBIG] Literal too large', fatal: true }]);
  });

  it('allocates nothing for declared literals before their bytes arrive', () => {
    const before = process.memoryUsage().arrayBuffers;
    const parsers = Array.from({ length: 64 }, () => parser({ maxLiteralSize: 64 * 1024 * 1024, maxCommandSize: 65 * 1024 * 1024 }));
    for (const p of parsers) expect(p.push(Buffer.from('A1 APPEND INBOX {67108864}\r\nFrom: x\r\n'))).toEqual([{ kind: 'continue' }]);
    // 64 connections declaring 64 MiB each would be 4 GiB if the parser allocated up front
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });
});

describe('LITERAL- (RFC 7888 §4): non-synchronizing literals over 4096 octets', () => {
  const smuggled = 'Z1 DELETE INBOX\r\n'.repeat(300).slice(0, 5000);
  const input = Buffer.from(`A1 APPEND INBOX {5000+}\r\n${smuggled}\r\nA2 NOOP\r\n`);

  it('are BAD [TOOBIG] and their bytes are skipped, never run as commands', () => {
    const expected: ParserEvent[] = [
      { kind: 'error', tag: 'A1', message: '[TOOBIG] Non-synchronizing literals over 4096 octets must be synchronizing (LITERAL-)', fatal: false },
      NOOP
    ];
    expect(parser({}, false).push(input)).toEqual(expected);
    expect(bytewise(parser({}, false), input)).toEqual(expected);
  });

  it('are fine with LITERAL+, and 4096 octets are fine with LITERAL-', () => {
    const events = parser({}, true).push(input);
    expect(events.map((e) => e.kind)).toEqual(['command', 'command']);
    const atLimit = parser({}, false).push(Buffer.from(`A1 APPEND INBOX {4096+}\r\n${'x'.repeat(4096)}\r\n`));
    expect(atLimit.map((e) => e.kind)).toEqual(['command']);
  });
});

describe('commands grown past maxCommandSize through literals', () => {
  const small = { maxCommandSize: 100, maxLiteralSize: 80 };

  it('refuses the synchronizing literal that would cross the limit', () => {
    const events = parser(small).push(Buffer.from(`A1 X {60+}\r\n${'a'.repeat(60)} {60}\r\nA2 NOOP\r\n`));
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: '[TOOBIG] Literal too large', fatal: false }, NOOP]);
  });

  it('skips a non-synchronizing one and drops the rest of the command', () => {
    const input = Buffer.from(`A1 X {60+}\r\n${'a'.repeat(60)} {60+}\r\n${'A9 DELETE INBOX\r\n'.repeat(4).slice(0, 60)} more {2+}\r\nxy\r\nA2 NOOP\r\n`);
    const expected: ParserEvent[] = [{ kind: 'error', tag: 'A1', message: '[TOOBIG] Literal too large', fatal: false }, NOOP];
    expect(parser(small).push(input)).toEqual(expected);
    expect(bytewise(parser(small), input)).toEqual(expected);
  });

  it('refuses a command whose lines alone cross the limit', () => {
    const events = parser(small).push(Buffer.from(`A1 X {1+}\r\na ${'b'.repeat(100)}\r\nA2 NOOP\r\n`));
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: '[TOOBIG] Command too large', fatal: false }, NOOP]);
  });
});

describe('deep nesting', () => {
  it('100000 nested parentheses within the line limit: BAD, then in sync', () => {
    const input = Buffer.from(`A1 X ${'('.repeat(100_000)}${')'.repeat(100_000)}\r\nA2 NOOP\r\n`);
    const events = parser({ maxLineLength: 1024 * 1024 }).push(input);
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: 'Too deeply nested', fatal: false }, NOOP]);
  });

  it('100000 nested parentheses with the default line limit: the line is too long, fatal', () => {
    const events = parser().push(Buffer.from(`A1 X ${'('.repeat(100_000)}`));
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: 'Line too long', fatal: true }]);
  });

  it('allows exactly maxNesting levels, lists and sections alike', () => {
    const ok = parser().push(Buffer.from(`A1 X ${'('.repeat(16)}${')'.repeat(16)}\r\n`));
    expect(ok.map((e) => e.kind)).toEqual(['command']);
    const tooDeep = parser().push(Buffer.from(`A1 X ${'('.repeat(17)}${')'.repeat(17)}\r\n`));
    expect(tooDeep[0]).toMatchObject({ kind: 'error', message: 'Too deeply nested' });
    const sections = parser().push(Buffer.from(`A1 FETCH 1 ${'BODY['.repeat(17)}${']'.repeat(17)}\r\n`));
    expect(sections[0]).toMatchObject({ kind: 'error', message: 'Too deeply nested' });
  });

  it('counts nesting across literals', () => {
    const input = `A1 X ${'({0+}\r\n '.repeat(17)}${')'.repeat(17)}\r\nA2 NOOP\r\n`;
    const events = parser().push(Buffer.from(input));
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: 'Too deeply nested', fatal: false }, NOOP]);
  });
});

describe('endless lines', () => {
  it('a 10 MB line without CRLF in one chunk is fatal at once, copying none of it', () => {
    const line = Buffer.concat([Buffer.from('A1 LOGIN '), Buffer.alloc(10 * 1024 * 1024, 0x61)]);
    const p = parser();
    const { result: events, allocated } = countBufferWork(() => p.push(line));
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: 'Line too long', fatal: true }]);
    expect(allocated).toBeLessThan(1024);
    expect(p.push(Buffer.from('\r\nA2 NOOP\r\n'))).toEqual([]);
  });

  it('a 10 MB line without CRLF in 16 KiB chunks is fatal once the limit is crossed, buffering no more', () => {
    const p = parser();
    const chunk = Buffer.alloc(16 * 1024, 0x61);
    let pushes = 1;
    let events = p.push(Buffer.from('A1 LOGIN '));
    while (!events.length && pushes < 640) {
      events = p.push(chunk);
      pushes++;
    }
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: 'Line too long', fatal: true }]);
    expect(pushes).toBe(5); // 9 + 3 × 16 KiB fits, the fourth chunk crosses 64 KiB
    expect(p.push(Buffer.from('\r\nA2 NOOP\r\n'))).toEqual([]);
  });

  it('decides at the limit, however the bytes are split', () => {
    const limit = { maxLineLength: 100 };
    const exact = Buffer.from(`A1 X ${'a'.repeat(95)}\r\n`);
    const over = Buffer.from(`A1 X ${'a'.repeat(96)}\r\n`);
    expect(parser(limit).push(exact).map((e) => e.kind)).toEqual(['command']);
    expect(bytewise(parser(limit), exact).map((e) => e.kind)).toEqual(['command']);
    const fatal = [{ kind: 'error', tag: 'A1', message: 'Line too long', fatal: true }];
    expect(parser(limit).push(over)).toEqual(fatal);
    expect(bytewise(parser(limit), over)).toEqual(fatal);
  });

  it('an endless raw line (AUTHENTICATE response) is fatal too', () => {
    const p = parser();
    p.rawMode = true;
    expect(p.push(Buffer.alloc(70 * 1024, 0x41))).toEqual([{ kind: 'error', tag: null, message: 'Line too long', fatal: true }]);
  });

  it('an endless line after a literal names the command', () => {
    const p = parser();
    p.push(Buffer.from('A7 LOGIN {1+}\r\nx '));
    expect(p.push(Buffer.alloc(70 * 1024, 0x61))).toEqual([{ kind: 'error', tag: 'A7', message: 'Line too long', fatal: true }]);
  });
});

describe('value floods', () => {
  it('1M values on one line: BAD at maxValues, then in sync', () => {
    const input = Buffer.from(`A1 X ${'a '.repeat(1_000_000)}\r\nA2 NOOP\r\n`);
    const events = parser({ maxLineLength: 4 * 1024 * 1024 }).push(input);
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: 'Too many arguments', fatal: false }, NOOP]);
  });

  it('exactly maxValues values are accepted', () => {
    const events = parser({ maxLineLength: 4 * 1024 * 1024 }).push(Buffer.from(`A1 X ${'a '.repeat(100_000)}\r\n`));
    expect(events.map((e) => e.kind)).toEqual(['command']);
  });

  it('200000 empty literals: BAD at maxValues, the rest read and dropped', () => {
    const input = Buffer.from(`A1 X${' {0+}\r\n'.repeat(200_000)}\r\nA2 NOOP\r\n`);
    const events = parser().push(input);
    expect(events).toEqual([{ kind: 'error', tag: 'A1', message: 'Too many arguments', fatal: false }, NOOP]);
  });
});

describe('inputs that make naive parsers quadratic', () => {
  it('an atom of 60000 "[" characters is decoded once, not once per "["', () => {
    const input = Buffer.from(`A1 X ${'['.repeat(60_000)}\r\n`);
    const { result: events, decoded } = countBufferWork(() => parser().push(input));
    expect(events.map((e) => e.kind)).toEqual(['command']);
    // a section-atom check that decoded the atom so far at every "[" would decode 1.8 billion octets
    expect(decoded).toBeLessThanOrEqual(2 * input.length);
  });

  it('a 60000-octet quoted string full of escapes is copied once', () => {
    const input = Buffer.from(`A1 X "${'\\"'.repeat(30_000)}"\r\n`);
    const { result: events, allocated, decoded } = countBufferWork(() => parser().push(input));
    expect(events[0]).toMatchObject({ kind: 'command', command: { args: [{ type: 'string', value: Buffer.from('"'.repeat(30_000)) }] } });
    expect(allocated).toBeLessThanOrEqual(2 * input.length);
    expect(decoded).toBeLessThanOrEqual(2 * input.length);
  });

  it('a long line arriving one byte at a time is gathered in a buffer that doubles, not re-copied per byte', () => {
    const line = Buffer.from(`A1 X ${'a'.repeat(60_000)}\r\n`);
    const { result: events, allocated, allocations } = countBufferWork(() => bytewise(parser(), line));
    expect(events.map((e) => e.kind)).toEqual(['command']);
    // 256, 512, … 128 KiB: under twice the longest line, in a handful of allocations (per byte: 1.8 GB in 60000)
    expect(allocated).toBeLessThan(4 * line.length);
    expect(allocations).toBeLessThan(20);
  });

  it('a 16 MiB literal in 64 KiB chunks is read once, not re-concatenated per chunk', () => {
    const size = 16 * 1024 * 1024;
    const p = parser({ maxLiteralSize: 64 * 1024 * 1024, maxCommandSize: 65 * 1024 * 1024 });
    expect(p.push(Buffer.from(`A1 APPEND INBOX {${size}}\r\n`))).toEqual([{ kind: 'continue' }]);
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    const crlf = Buffer.from('\r\n');
    const { result: events, allocated } = countBufferWork(() => {
      const out: ParserEvent[] = [];
      for (let sent = 0; sent < size; sent += chunk.length) out.push(...p.push(chunk));
      out.push(...p.push(crlf));
      return out;
    });
    // the literal's bytes are copied once, into the value; concatenating per chunk would copy 2 GiB
    expect(allocated).toBeLessThan(size + 64 * 1024);
    expect(events).toHaveLength(1);
    const command = events[0].kind === 'command' ? events[0].command : null;
    expect(command?.size).toBe(`A1 APPEND INBOX {${size}}\r\n`.length + size + 2);
    const literal = command?.args[1];
    expect(literal?.type === 'string' && literal.value.length).toBe(size);
  });
});

describe('trickled input', () => {
  it('a 300 KB literal arriving one byte per push is gathered in blocks and read correctly', () => {
    const body = Buffer.alloc(300 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = i % 251;
    const p = parser();
    expect(p.push(Buffer.from(`A1 APPEND INBOX {${body.length}}\r\n`))).toEqual([{ kind: 'continue' }]);
    const input = Buffer.concat([body, Buffer.from('\r\n')]);
    const { result: events, allocated, allocations } = countBufferWork(() => bytewise(p, input));
    const command = events[0]?.kind === 'command' ? events[0].command : null;
    const literal = command?.args[1];
    expect(literal?.type === 'string' && literal.value.equals(body)).toBe(true);
    // 64 KiB blocks and the value: twice the literal in a few allocations, not a copy or an object per byte
    expect(allocated).toBeLessThan(3 * body.length);
    expect(allocations).toBeLessThan(20);
  });
});
