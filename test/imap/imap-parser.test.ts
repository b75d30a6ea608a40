// Tests for the IMAP command parser (server/imap/parser.ts): every value type, literals split at every byte,
// LITERAL+/literal8, FETCH sections and partials, APPEND, pipelining, raw lines, and resync after malformed commands.
import { describe, expect, it } from 'vitest';
import { CommandParser, type ImapCommand, type ImapValue, type ParserEvent, type ParserLimits } from '../../server/imap/parser.js';

const LIMITS: ParserLimits = { maxLineLength: 64 * 1024, maxLiteralSize: 1024 * 1024, maxCommandSize: 2 * 1024 * 1024, maxNesting: 16, maxValues: 100_000 };

const parser = (literalPlus = true) => new CommandParser(LIMITS, { literalPlus });
const bytes = (input: string | Buffer) => (typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
const parse = (input: string | Buffer): ParserEvent[] => parser().push(bytes(input));

/** Events when the input arrives one byte per push. */
function parseBytewise(input: string | Buffer): ParserEvent[] {
  const p = parser();
  const data = bytes(input);
  const events: ParserEvent[] = [];
  for (let i = 0; i < data.length; i++) events.push(...p.push(data.subarray(i, i + 1)));
  return events;
}

/** The input split in two at every position gives the same events as in one piece. */
function expectSplitInvariant(input: string | Buffer): ParserEvent[] {
  const data = bytes(input);
  const whole = parse(data);
  for (let cut = 0; cut <= data.length; cut++) {
    const p = parser();
    expect([...p.push(data.subarray(0, cut)), ...p.push(data.subarray(cut))], `split at ${cut}`).toEqual(whole);
  }
  expect(parseBytewise(data)).toEqual(whole);
  return whole;
}

const commands = (events: ParserEvent[]): ImapCommand[] => events.flatMap((e) => (e.kind === 'command' ? [e.command] : []));
const only = (events: ParserEvent[]): ImapCommand => {
  expect(events.map((e) => e.kind)).toEqual(['command']);
  return commands(events)[0];
};
const atom = (value: string, extra: Partial<Extract<ImapValue, { type: 'atom' }>> = {}): ImapValue => ({ type: 'atom', value, ...extra });
const quoted = (value: string | Buffer): ImapValue => ({ type: 'string', value: bytes(value), literal: false });
const literal = (value: string | Buffer, binary = false): ImapValue => (binary ? { type: 'string', value: bytes(value), literal: true, binary: true } : { type: 'string', value: bytes(value), literal: true });
const list = (...items: ImapValue[]): ImapValue => ({ type: 'list', items });
const nil: ImapValue = { type: 'nil' };

describe('simple commands', () => {
  it('reads tag, upper-cased name and size', () => {
    expect(only(parse('A1 NOOP\r\n'))).toEqual({ tag: 'A1', name: 'NOOP', args: [], size: 9 });
    expect(only(parse('a.2 capability\r\n'))).toMatchObject({ tag: 'a.2', name: 'CAPABILITY' });
  });

  it('accepts any ASTRING-CHAR but "+" in a tag (RFC 9051 §9), "]" included', () => {
    expect(only(parse('x]y-1_~ NOOP\r\n')).tag).toBe('x]y-1_~');
  });

  it('keeps UID and puts the sub-command first', () => {
    const command = only(parse('A2 UID FETCH 1:* (FLAGS)\r\n'));
    expect(command.name).toBe('UID');
    expect(command.args).toEqual([atom('FETCH'), atom('1:*'), list(atom('FLAGS'))]);
  });

  it('takes bare LF as the line end and counts what arrived', () => {
    const events = parse('A1 NOOP\nA2 NOOP\r\n');
    expect(commands(events).map((c) => [c.tag, c.size])).toEqual([
      ['A1', 8],
      ['A2', 9]
    ]);
  });

  it('ignores blank lines between commands', () => {
    expect(commands(parse('\r\n\nA1 NOOP\r\n\r\n')).map((c) => c.tag)).toEqual(['A1']);
  });

  it('parses several pipelined commands from one chunk', () => {
    const events = expectSplitInvariant('A1 NOOP\r\nA2 SELECT INBOX\r\nA3 FETCH 1 FLAGS\r\nA4 LOGOUT\r\n');
    expect(commands(events).map((c) => `${c.tag} ${c.name}`)).toEqual(['A1 NOOP', 'A2 SELECT', 'A3 FETCH', 'A4 LOGOUT']);
  });

  it('tolerates trailing and repeated spaces', () => {
    expect(only(parse('A1 LIST  ""  * \r\n')).args).toEqual([quoted(''), atom('*')]);
  });
});

describe('value types', () => {
  it('reads atoms, quoted strings, NIL, lists, literals and literal8 in one command', () => {
    const input = 'A1 X atom "quo\\"ted\\\\" NIL nil (a (b "c") NIL) {3+}\r\nlit ~{3+}\r\n\x00\x01\x02 \\Seen 1:* "" ()\r\n';
    const command = only(parse(input));
    expect(command.args).toEqual([
      atom('atom'),
      quoted('quo"ted\\'),
      nil,
      nil,
      list(atom('a'), list(atom('b'), quoted('c')), nil),
      literal('lit'),
      literal(Buffer.from([0, 1, 2]), true),
      atom('\\Seen'),
      atom('1:*'),
      quoted(''),
      list()
    ]);
    expect(command.size).toBe(Buffer.byteLength(input));
  });

  it('accepts UTF-8 in quoted strings', () => {
    expect(only(parse('A1 SELECT "Entwürfe/Geschäft"\r\n')).args).toEqual([quoted('Entwürfe/Geschäft')]);
  });

  it('keeps list wildcards, "[" and "]" in atoms outside sections', () => {
    expect(only(parse('A1 LIST "" [Gmail]/%\r\n')).args).toEqual([quoted(''), atom('[Gmail]/%')]);
    expect(only(parse('A1 STATUS Foo] (MESSAGES UIDNEXT)\r\n')).args).toEqual([atom('Foo]'), list(atom('MESSAGES'), atom('UIDNEXT'))]);
  });

  it('reads NIL case-insensitively but "NIL" quoted stays a string', () => {
    expect(only(parse('A1 X Nil "NIL" NILS\r\n')).args).toEqual([nil, quoted('NIL'), atom('NILS')]);
  });
});

describe('literals', () => {
  it('asks for a synchronizing literal and streams it', () => {
    const p = parser();
    expect(p.push(Buffer.from('A1 LOGIN {5}\r\n'))).toEqual([{ kind: 'continue' }]);
    expect(p.push(Buffer.from('ali'))).toEqual([]);
    expect(p.push(Buffer.from('ce {7}\r\n'))).toEqual([{ kind: 'continue' }]);
    const events = p.push(Buffer.from('se\r\nret\r\n'));
    expect(only(events).args).toEqual([literal('alice'), literal('se\r\nret')]);
  });

  it('gives the same events whatever the split, one byte at a time included', () => {
    const input = 'A1 LOGIN {5}\r\nalice {8+}\r\n{p}"\r\n\\ \r\nA2 APPEND INBOX ~{4}\r\n\x00\r\n\xff\r\nA3 NOOP\r\n';
    const events = expectSplitInvariant(Buffer.from(input, 'latin1'));
    expect(events.map((e) => e.kind)).toEqual(['continue', 'command', 'continue', 'command', 'command']);
    expect(commands(events)[0].args).toEqual([literal('alice'), literal('{p}"\r\n\\ ')]);
    expect(commands(events)[1].args).toEqual([atom('INBOX'), literal(Buffer.from([0, 13, 10, 255]), true)]);
  });

  it('handles {0} and {0+}', () => {
    const events = expectSplitInvariant('A1 LOGIN {0}\r\n {0+}\r\n\r\nA2 NOOP\r\n');
    expect(events.map((e) => e.kind)).toEqual(['continue', 'command', 'command']);
    expect(commands(events)[0]).toEqual({ tag: 'A1', name: 'LOGIN', args: [literal(''), literal('')], size: 23 });
  });

  it('sends no continuation for LITERAL+ and marks literal8 binary (RFC 3516)', () => {
    const events = parse('A1 APPEND INBOX {3+}\r\nabc\r\nA2 APPEND INBOX ~{2}\r\n\x00x\r\n');
    expect(events.map((e) => e.kind)).toEqual(['command', 'continue', 'command']);
    expect(commands(events)[1].args[1]).toEqual(literal(Buffer.from([0, 0x78]), true));
  });

  it('accepts a literal inside a list and values right after it', () => {
    expect(only(parse('A1 X ({2+}\r\nab "c" {1+}\r\nd)\r\n')).args).toEqual([list(literal('ab'), quoted('c'), literal('d'))]);
  });

  it('accepts leading zeros in the octet count', () => {
    expect(only(parse('A1 X {0000000000000000003+}\r\nabc\r\n')).args).toEqual([literal('abc')]);
  });

  it('does not pin the buffer a small piece of literal came in', () => {
    const big = Buffer.alloc(1024 * 1024, 0x61);
    const p = parser();
    p.push(Buffer.from('A1 X {3+}\r\n'));
    p.push(big.subarray(0, 1));
    p.push(big.subarray(1, 2));
    const events = p.push(Buffer.concat([big.subarray(2, 3), Buffer.from('\r\n')]));
    const value = only(events).args[0] as Extract<ImapValue, { type: 'string' }>;
    expect(value.value.toString()).toBe('aaa');
    expect(value.value.buffer).not.toBe(big.buffer);
  });
});

describe('FETCH sections and partials', () => {
  it('reads BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.1024>', () => {
    const command = only(parse('A1 FETCH 1:3 (UID BODY.PEEK[HEADER.FIELDS (FROM TO)]<0.1024> FLAGS)\r\n'));
    expect(command.args).toEqual([
      atom('1:3'),
      list(atom('UID'), atom('BODY.PEEK', { section: [atom('HEADER.FIELDS'), list(atom('FROM'), atom('TO'))], partial: { start: 0, length: 1024 } }), atom('FLAGS'))
    ]);
  });

  it('reads empty sections, part numbers, BINARY and a partial without length', () => {
    const command = only(parse('A1 FETCH 1 (BODY[] body[1.2.MIME] BINARY[1.2] BINARY.PEEK[3]<10.5> BINARY.SIZE[1] BODY[TEXT]<7>)\r\n'));
    expect(command.args[1]).toEqual(
      list(
        atom('BODY', { section: [] }),
        atom('body', { section: [atom('1.2.MIME')] }),
        atom('BINARY', { section: [atom('1.2')] }),
        atom('BINARY.PEEK', { section: [atom('3')], partial: { start: 10, length: 5 } }),
        atom('BINARY.SIZE', { section: [atom('1')] }),
        atom('BODY', { section: [atom('TEXT')], partial: { start: 7, length: null } })
      )
    );
  });

  it('reads a section alone, as the last argument', () => {
    expect(only(parse('A1 FETCH 1 BODY[]\r\n')).args).toEqual([atom('1'), atom('BODY', { section: [] })]);
  });

  it('reads header field names given as quoted strings and literals, split anywhere', () => {
    const events = expectSplitInvariant('A1 UID FETCH 7 (BODY[1.HEADER.FIELDS.NOT ("Subject" {4}\r\nDate)]<0.10>)\r\n');
    expect(commands(events)[0].args[2]).toEqual(
      list(atom('BODY', { section: [atom('1.HEADER.FIELDS.NOT'), list(quoted('Subject'), literal('Date'))], partial: { start: 0, length: 10 } }))
    );
  });
});

describe('APPEND', () => {
  it('reads mailbox, flag list, date-time and the message literal', () => {
    const message = 'From: a@b\r\n\r\nhello\r\n';
    const p = parser();
    const head = `A003 APPEND "Sent Items" (\\Seen \\Draft) "15-Nov-1984 13:37:01 -0800" {${message.length}}\r\n`;
    expect(p.push(Buffer.from(head))).toEqual([{ kind: 'continue' }]);
    const command = only(p.push(Buffer.from(message + '\r\n')));
    expect(command).toEqual({
      tag: 'A003',
      name: 'APPEND',
      args: [quoted('Sent Items'), list(atom('\\Seen'), atom('\\Draft')), quoted('15-Nov-1984 13:37:01 -0800'), literal(message)],
      size: head.length + message.length + 2
    });
  });

  it('reads MULTIAPPEND-style repeated literals split at every byte', () => {
    const events = expectSplitInvariant('A1 APPEND INBOX {3+}\r\none (\\Seen) {3}\r\ntwo\r\n');
    expect(commands(events)[0].args).toEqual([atom('INBOX'), literal('one'), list(atom('\\Seen')), literal('two')]);
  });
});

describe('raw lines', () => {
  it('delivers lines while rawMode is on, commands again after', () => {
    const p = parser();
    expect(only(p.push(Buffer.from('A1 IDLE\r\n'))).name).toBe('IDLE');
    p.rawMode = true;
    expect(p.push(Buffer.from('DO'))).toEqual([]);
    expect(p.push(Buffer.from('NE\r\n'))).toEqual([{ kind: 'line', line: Buffer.from('DONE') }]);
    expect(p.push(Buffer.from('dGVzdA==\n'))).toEqual([{ kind: 'line', line: Buffer.from('dGVzdA==') }]);
    p.rawMode = false;
    expect(only(p.push(Buffer.from('A2 NOOP\r\n'))).tag).toBe('A2');
  });

  it('finishes a command in progress before taking raw lines', () => {
    const p = parser();
    expect(p.push(Buffer.from('A1 LOGIN {1}\r\n'))).toEqual([{ kind: 'continue' }]);
    p.rawMode = true;
    expect(only(p.push(Buffer.from('x y\r\n'))).args).toEqual([literal('x'), atom('y')]);
    expect(p.push(Buffer.from('*\r\n'))).toEqual([{ kind: 'line', line: Buffer.from('*') }]);
  });
});

describe('malformed commands are BAD and the parser resyncs', () => {
  const cases: Array<[string, string, string | null, string]> = [
    ['unbalanced (', 'A1 STATUS INBOX (MESSAGES\r\n', 'A1', 'Missing )'],
    ['unbalanced )', 'A1 STATUS INBOX MESSAGES)\r\n', 'A1', 'Unexpected )'],
    ['unclosed section', 'A1 FETCH 1 BODY[HEADER\r\n', 'A1', 'Missing ]'],
    ['"]" inside a list inside a section is an atom character', 'A1 FETCH 1 (BODY[HEADER.FIELDS (FROM])\r\n', 'A1', 'Missing ]'],
    ['tag with "+"', '+1 NOOP\r\n', null, 'Invalid tag'],
    ['"*" as tag', '* NOOP\r\n', null, 'Invalid tag'],
    ['line starting with a space', ' A1 NOOP\r\n', null, 'Invalid tag'],
    ['tag only', 'A1\r\n', 'A1', 'Missing command name'],
    ['tag and space only', 'A1 \r\n', 'A1', 'Missing command name'],
    ['command name with a quote', 'A1 NO"OP"\r\n', 'A1', 'Invalid command name'],
    ['command name as a list', 'A1 (NOOP)\r\n', 'A1', 'Missing command name'],
    ['unterminated quoted string', 'A1 LOGIN "alice secret\r\n', 'A1', 'Unterminated quoted string'],
    ['unknown escape', 'A1 LOGIN "a\\nb" x\r\n', 'A1', 'Invalid escape in quoted string'],
    ['NUL in a quoted string', 'A1 LOGIN "a\x00b" x\r\n', 'A1', 'Invalid character in quoted string'],
    ['values without a space', 'A1 LOGIN "a""b"\r\n', 'A1', 'Expected a space between arguments'],
    ['list right after a value', 'A1 X (a)(b)\r\n', 'A1', 'Expected a space between arguments'],
    ['8-bit atom', 'A1 SELECT Entwürfe\r\n', 'A1', 'Invalid character in atom'],
    ['control character in an atom', 'A1 SELECT IN\x01BOX\r\n', 'A1', 'Invalid character in atom'],
    ['brace inside an atom', 'A1 LOGIN ab{3}\r\n', 'A1', 'Invalid character in atom'],
    ['literal header not ending the line', 'A1 LOGIN {3} x\r\n', 'A1', 'Invalid literal'],
    ['literal header without digits', 'A1 LOGIN {}\r\n', 'A1', 'Invalid literal'],
    ['zero-length partial', 'A1 FETCH 1 BODY[]<0.0>\r\n', 'A1', 'Invalid partial'],
    ['empty partial', 'A1 FETCH 1 BODY[]<>\r\n', 'A1', 'Invalid number'],
    ['partial out of range', 'A1 FETCH 1 BODY[]<99999999999999999>\r\n', 'A1', 'Invalid number'],
    ['text after a section', 'A1 FETCH 1 BODY[]x\r\n', 'A1', 'Expected a space between arguments']
  ];
  for (const [threat, input, tag, message] of cases) {
    it(threat, () => {
      const events = expectSplitInvariant(Buffer.from(input + 'Z9 NOOP\r\n', 'utf8'));
      expect(events).toEqual([
        { kind: 'error', tag, message, fatal: false },
        { kind: 'command', command: { tag: 'Z9', name: 'NOOP', args: [], size: 9 } }
      ]);
    });
  }

  it('sends no continuation for a synchronizing literal on a bad line: the client gives up the command', () => {
    const events = parse('A1 LOGIN ) {5}\r\nA2 NOOP\r\n');
    expect(events).toEqual([
      { kind: 'error', tag: 'A1', message: 'Unexpected )', fatal: false },
      { kind: 'command', command: { tag: 'A2', name: 'NOOP', args: [], size: 9 } }
    ]);
  });

  it('drops the rest of a command that failed after a literal was accepted', () => {
    const events = expectSplitInvariant('A1 LOGIN {1}\r\nx "y\r\nA2 NOOP\r\n');
    expect(events.map((e) => e.kind)).toEqual(['continue', 'error', 'command']);
    expect(events[1]).toEqual({ kind: 'error', tag: 'A1', message: 'Unterminated quoted string', fatal: false });
  });

  it('keeps working after many malformed lines', () => {
    const garbage = Array.from({ length: 1000 }, (_, i) => `G${i} (((\r\n`).join('');
    const events = parse(garbage + 'A1 NOOP\r\n');
    expect(events.filter((e) => e.kind === 'error')).toHaveLength(1000);
    expect(commands(events).map((c) => c.tag)).toEqual(['A1']);
  });
});
