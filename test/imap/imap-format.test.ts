// Tests for IMAP response data serialization (server/imap/format.ts): RFC examples byte for byte, and every output read back with imapflow's own parser.
import { describe, it, expect } from 'vitest';
import { parser } from 'imapflow/lib/handler/imap-handler.js';
import { ImapStream } from 'imapflow/lib/handler/imap-stream.js';
import { parseBodystructure, parseEnvelope } from 'imapflow/lib/tools.js';
import type { ImapAttribute, ImapAttributeList, ImapResponse } from 'imapflow/lib/handler/types.js';
import {
  serialize,
  envelopeData,
  bodyStructureData,
  fetchResponse,
  imapString,
  astringData,
  flagsData,
  type ImapData,
} from '../../server/imap/format.js';
import { parseMessage, type MimePart } from '../../server/store/mime.js';
import { buildEnvelope, type Envelope } from '../../server/store/envelope.js';
import { countBufferWork } from '../helpers/work.js';

const crlf = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
const text = (value: ImapData, utf8 = false): string => serialize(value, { utf8 }).toString('utf8');

/** Frames the bytes as imapflow does on a connection (literals split out) and parses every response. */
async function readResponses(wire: Buffer): Promise<ImapResponse[]> {
  const stream = new ImapStream({ logger: false });
  const responses: ImapResponse[] = [];
  const reading = (async () => {
    for await (const item of stream as AsyncIterable<{ payload: Buffer; literals: Buffer[]; next: () => void }>) {
      responses.push(await parser(item.payload, { literals: item.literals }));
      item.next();
    }
  })();
  stream.end(wire);
  await reading;
  return responses;
}

/** The attribute pairs of one FETCH response, by upper-case name. */
async function readFetch(wire: Buffer): Promise<{ seq: string; items: Map<string, ImapAttribute> }> {
  const responses = await readResponses(wire);
  expect(responses).toHaveLength(1);
  const [response] = responses;
  expect(response!.tag).toBe('*');
  const attributes = response!.attributes!;
  expect(attributes[0]).toMatchObject({ type: 'ATOM', value: 'FETCH' });
  const list = attributes[1] as ImapAttributeList;
  const items = new Map<string, ImapAttribute>();
  for (let i = 0; i < list.length; i += 2) {
    const key = list[i] as { value: string; section?: ImapAttributeList };
    items.set(String(key.value).toUpperCase(), list[i + 1]!);
  }
  return { seq: response!.command!, items };
}

/** imapflow's parse tree as plain values: NIL null, strings and literals as text, atoms as { atom }. */
function plain(node: ImapAttribute): unknown {
  if (node === null) return null;
  if (Array.isArray(node)) return node.map(plain);
  const value = Buffer.isBuffer(node.value) ? node.value.toString('utf8') : node.value;
  return node.type === 'ATOM' ? { atom: value } : value;
}

/** Serializes one value inside a FETCH response and gives back what imapflow read. */
async function roundTrip(value: ImapData, utf8 = false): Promise<ImapAttribute> {
  const { items } = await readFetch(fetchResponse(1, [['X-VALUE', value]], { utf8 }));
  return items.get('X-VALUE')!;
}

function part(fields: Partial<MimePart> & Pick<MimePart, 'contentType'>): MimePart {
  return {
    headerStart: 0, bodyStart: 0, bodyEnd: 0, headers: [], id: null, description: null, encoding: '7BIT',
    disposition: null, language: null, location: null, md5: null, size: 0, lines: 0, parts: [], message: null,
    ...fields,
  };
}

function ctype(type: string, subtype: string, params: Record<string, string> = {}): MimePart['contentType'] {
  return { type, subtype, params };
}

describe('strings, literals and the other atoms of response data', () => {
  it('quotes short safe strings and escapes quoted-specials', () => {
    expect(text('hello world')).toBe('"hello world"');
    expect(text('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
    expect(text('')).toBe('""');
    expect(text('NIL')).toBe('"NIL"'); // a string, never the atom NIL
  });

  it('writes NIL, numbers, bigints, atoms and raw text', () => {
    expect(text(null)).toBe('NIL');
    expect(text(0)).toBe('0');
    expect(text(4294967295)).toBe('4294967295');
    expect(text(18446744073709551615n)).toBe('18446744073709551615');
    expect(text({ atom: '\\Seen' })).toBe('\\Seen');
    expect(text({ raw: 'BODY[1]<0>' })).toBe('BODY[1]<0>');
    expect(() => serialize(-1)).toThrow(RangeError);
    expect(() => serialize(1.5)).toThrow(RangeError);
    expect(() => serialize(-1n)).toThrow(RangeError);
  });

  it('uses a literal for CR, LF and long strings', () => {
    expect(text('two\r\nlines')).toBe('{10}\r\ntwo\r\nlines');
    expect(text('bare\ncr')).toBe('{7}\r\nbare\ncr');
    const long = 'x'.repeat(2000);
    expect(text(long)).toBe(`{2000}\r\n${long}`);
    expect(text({ quoted: long })).toBe(`"${long}"`); // { quoted } is never a literal because of its length
    expect(text({ quoted: 'a\r\nb' })).toBe('{4}\r\na\r\nb'); // ...but cannot carry CR LF
  });

  it('sends 8-bit text as a literal unless UTF-8 is enabled, counting bytes', () => {
    expect(text('Grüße')).toBe('{7}\r\nGrüße');
    expect(serialize('Grüße').subarray(0, 5).toString()).toBe('{7}\r\n');
    expect(text('Grüße', true)).toBe('"Grüße"');
    expect(text('日本語 "x"', true)).toBe('"日本語 \\"x\\""');
    expect(imapString('Grüße')).toBe('{7}\r\nGrüße');
    expect(imapString('Grüße', { utf8: true })).toBe('"Grüße"');
  });

  it('drops NUL, which no IMAP string can carry', () => {
    expect(text('a\0b')).toBe('"ab"');
  });

  it('writes Buffers as literals and literal8 on request', () => {
    const bytes = Buffer.from([0x61, 0x00, 0xff, 0x0d, 0x0a]);
    expect(serialize(bytes)).toEqual(Buffer.concat([Buffer.from('{5}\r\n'), bytes]));
    expect(serialize({ literal: bytes, binary: true })).toEqual(Buffer.concat([Buffer.from('~{5}\r\n'), bytes]));
    expect(serialize({ literal: Buffer.alloc(0) }).toString()).toBe('{0}\r\n');
  });

  it('writes lists with single spaces and adjacent runs without', () => {
    expect(text([])).toBe('()');
    expect(text([1, 'a', null, [{ atom: 'X' }]])).toBe('(1 "a" NIL (X))');
    expect(text([{ adjacent: [[1], [2]] }, 'M'])).toBe('((1)(2) "M")');
  });

  it('chooses atoms for astrings only when safe', () => {
    expect(astringData('INBOX')).toEqual({ atom: 'INBOX' });
    expect(astringData('a]b')).toEqual({ atom: 'a]b' });
    expect(astringData('nil')).toBe('nil');
    expect(astringData('two words')).toBe('two words');
    expect(astringData('')).toBe('');
    expect(astringData('a%')).toBe('a%');
    expect(text(flagsData(['\\Seen', '$Forwarded']))).toBe('(\\Seen $Forwarded)');
  });

  it('is read back by imapflow as the same values', async () => {
    const value: ImapData = [
      'plain', '', null, 42, 'quote " and \\ backslash', 'line\r\nbreak', 'Grüße', 'x'.repeat(3000),
      Buffer.from('literal\r\nbytes'), [{ atom: 'ATOM' }, []], { quoted: 'q' },
    ];
    for (const utf8 of [false, true]) {
      expect(plain(await roundTrip(value, utf8))).toEqual([
        'plain', '', null, { atom: '42' }, 'quote " and \\ backslash', 'line\r\nbreak', 'Grüße', 'x'.repeat(3000),
        'literal\r\nbytes', [{ atom: 'ATOM' }, []], 'q',
      ]);
    }
  });

  it('reads several responses with literals back in order', async () => {
    const wire = Buffer.concat([
      fetchResponse(1, [['UID', 7], ['BODY[]', Buffer.from('Subject: a\r\n\r\nbody\r\n')]]),
      fetchResponse(2, [['UID', 8], ['FLAGS', flagsData(['\\Seen'])]]),
    ]);
    const responses = await readResponses(wire);
    expect(responses.map((r) => r.command)).toEqual(['1', '2']);
    expect(plain(responses[0]!.attributes![1]!)).toEqual([{ atom: 'UID' }, { atom: '7' }, { atom: 'BODY' }, 'Subject: a\r\n\r\nbody\r\n']);
    expect(plain(responses[1]!.attributes![1]!)).toEqual([{ atom: 'UID' }, { atom: '8' }, { atom: 'FLAGS' }, [{ atom: '\\Seen' }]]);
  });
});

// RFC 3501 §8 (and RFC 9051 §8) sample session, response to "a003 fetch 12 full", as one line
const RFC3501_FETCH =
  '* 12 FETCH (FLAGS (\\Seen) INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 4286 ' +
  'ENVELOPE ("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" ' +
  '(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
  '(("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ' +
  '((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL ' +
  '"<B27397-0100000@cac.washington.edu>") BODY ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92))\r\n';

const RFC3501_HEADER = crlf(
  'Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
  'From: Terry Gray <gray@cac.washington.edu>',
  'Subject: IMAP4rev1 WG mtg summary and minutes',
  'To: imap@cac.washington.edu',
  'cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>',
  'Message-Id: <B27397-0100000@cac.washington.edu>',
  'MIME-Version: 1.0',
  'Content-Type: TEXT/PLAIN; CHARSET=US-ASCII',
  '',
  '',
);

describe('RFC examples byte for byte', () => {
  it('reproduces the FETCH FULL response of the RFC 3501 sample session', () => {
    const root = parseMessage(RFC3501_HEADER);
    const envelope = buildEnvelope(root.headers);
    const body = { ...root, size: 3028, lines: 92 }; // the sample's body is not in the RFC
    const wire = fetchResponse(12, [
      ['FLAGS', flagsData(['\\Seen'])],
      ['INTERNALDATE', { quoted: '17-Jul-1996 02:44:25 -0700' }],
      ['RFC822.SIZE', 4286],
      ['ENVELOPE', envelopeData(envelope)],
      ['BODY', bodyStructureData(body, false)],
    ]);
    expect(wire.toString()).toBe(RFC3501_FETCH);
  });

  it('reproduces the two-part BODYSTRUCTURE of RFC 3501 §7.4.2', () => {
    const mixed = part({
      contentType: ctype('multipart', 'mixed', { boundary: 'x' }),
      parts: [
        part({ contentType: ctype('text', 'plain', { charset: 'US-ASCII' }), size: 1152, lines: 23 }),
        part({
          contentType: ctype('text', 'plain', { charset: 'US-ASCII', name: 'cc.diff' }),
          id: '<960723163407.20117h@cac.washington.edu>',
          description: 'Compiler diff',
          encoding: 'BASE64',
          size: 4554,
          lines: 73,
        }),
      ],
    });
    expect(text(bodyStructureData(mixed, false))).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") ' +
        '"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED")',
    );
    expect(text(bodyStructureData(mixed, true))).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") ' +
        '"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73 NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "x") NIL NIL NIL)',
    );
  });

  it('is read back by imapflow into the RFC sample envelope', async () => {
    const { seq, items } = await readFetch(Buffer.from(RFC3501_FETCH));
    expect(seq).toBe('12');
    const envelope = parseEnvelope(items.get('ENVELOPE') as ImapAttributeList);
    expect(envelope).toMatchObject({
      subject: 'IMAP4rev1 WG mtg summary and minutes',
      from: [{ name: 'Terry Gray', address: 'gray@cac.washington.edu' }],
      to: [{ name: '', address: 'imap@cac.washington.edu' }],
      cc: [{ name: '', address: 'minutes@CNRI.Reston.VA.US' }, { name: 'John Klensin', address: 'KLENSIN@MIT.EDU' }],
      messageId: '<B27397-0100000@cac.washington.edu>',
    });
  });
});

describe('ENVELOPE', () => {
  const envelopeOf = (...headers: string[]): Envelope => buildEnvelope(parseMessage(crlf(...headers, '', '')).headers);

  it('writes NIL for absent fields and "" for empty ones', () => {
    const envelope = envelopeOf('Subject:', 'From: a@example.org');
    expect(text(envelopeData(envelope))).toBe(
      '(NIL "" ((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) NIL NIL NIL NIL NIL)',
    );
  });

  it('writes group syntax with start and end markers (RFC 9051 §7.5.2)', async () => {
    const envelope = envelopeOf(
      'From: "Doe, \\"JD\\" John" <jd@example.org>',
      'To: undisclosed-recipients:;',
      'Cc: Team: alice@example.org, Bob <bob@example.net>;, carol@example.com',
      'Bcc: local-only',
    );
    const wire = text(envelopeData(envelope));
    expect(wire).toBe(
      '(NIL NIL (("Doe, \\"JD\\" John" NIL "jd" "example.org")) (("Doe, \\"JD\\" John" NIL "jd" "example.org")) ' +
        '(("Doe, \\"JD\\" John" NIL "jd" "example.org")) ' +
        '((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) ' +
        '((NIL NIL "Team" NIL)(NIL NIL "alice" "example.org")("Bob" NIL "bob" "example.net")(NIL NIL NIL NIL)(NIL NIL "carol" "example.com")) ' +
        '((NIL NIL "local-only" "")) NIL NIL)',
    );
    const parsed = parseEnvelope((await roundTrip(envelopeData(envelope))) as ImapAttributeList);
    expect(parsed.from).toEqual([{ name: 'Doe, "JD" John', address: 'jd@example.org' }]);
    expect(parsed.to).toEqual([{ name: 'undisclosed-recipients', address: '' }]);
    expect(parsed.cc).toEqual([
      { name: 'Team', address: '' },
      { name: '', address: 'alice@example.org' },
      { name: 'Bob', address: 'bob@example.net' },
      { name: '', address: 'carol@example.com' },
    ]);
  });

  it('keeps 8-bit header text intact through a literal, or quoted under UTF-8', async () => {
    const envelope = envelopeOf('Subject: Grüße aus Köln', 'From: Jörg <joerg@example.de>', 'In-Reply-To: <a@b>', 'Message-ID: <c@d>');
    expect(text(envelopeData(envelope), true)).toContain('"Grüße aus Köln" (("Jörg" NIL "joerg" "example.de"))');
    expect(text(envelopeData(envelope))).toContain('{17}\r\nGrüße aus Köln (({5}\r\nJörg NIL "joerg" "example.de"))');
    for (const utf8 of [false, true]) {
      const parsed = parseEnvelope((await roundTrip(envelopeData(envelope), utf8)) as ImapAttributeList);
      expect(parsed).toMatchObject({
        subject: 'Grüße aus Köln',
        from: [{ name: 'Jörg', address: 'joerg@example.de' }],
        inReplyTo: '<a@b>',
        messageId: '<c@d>',
      });
    }
  });

  it('leaves encoded-words for the client to decode', async () => {
    const envelope = envelopeOf('Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=');
    expect(text(envelopeData(envelope))).toContain('"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?="');
    expect(parseEnvelope((await roundTrip(envelopeData(envelope))) as ImapAttributeList).subject).toBe('Grüße');
  });
});

describe('BODY and BODYSTRUCTURE', () => {
  it('adds the us-ascii default charset to text parts without one', () => {
    const html = part({ contentType: ctype('text', 'html'), size: 10, lines: 1 });
    expect(text(bodyStructureData(html, false))).toBe('("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 1)');
    const image = part({ contentType: ctype('image', 'png'), encoding: 'BASE64', size: 100 });
    expect(text(bodyStructureData(image, false))).toBe('("IMAGE" "PNG" NIL NIL NIL "BASE64" 100)');
    expect(text(bodyStructureData(image, true))).toBe('("IMAGE" "PNG" NIL NIL NIL "BASE64" 100 NIL NIL NIL NIL)');
  });

  it('writes multipart/alternative with all extension data', () => {
    const raw = crlf(
      'Content-Type: multipart/alternative; boundary="=_alt"',
      'Content-Disposition: inline',
      'Content-Language: de-DE, en',
      'Content-Location: https://example.org/letter',
      '',
      '--=_alt',
      'Content-Type: text/plain; charset=utf-8; format=flowed',
      'Content-Transfer-Encoding: quoted-printable',
      'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
      'Content-Language: de',
      '',
      'Hallo',
      '--=_alt',
      'Content-Type: text/html; charset="utf-8"',
      'Content-ID: <html@example.org>',
      'Content-Description: HTML version',
      'Content-Disposition: inline; filename="letter.html"',
      'Content-Location: letter.html',
      '',
      '<p>Hallo</p>',
      '--=_alt--',
      '',
    );
    const root = parseMessage(raw);
    expect(text(bodyStructureData(root, true))).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "utf-8" "FORMAT" "flowed") NIL NIL "QUOTED-PRINTABLE" 5 1 "Q2hlY2sgSW50ZWdyaXR5IQ==" NIL ("de") NIL)' +
        '("TEXT" "HTML" ("CHARSET" "utf-8") "<html@example.org>" "HTML version" "7BIT" 12 1 NIL ("INLINE" ("FILENAME" "letter.html")) NIL "letter.html")' +
        ' "ALTERNATIVE" ("BOUNDARY" "=_alt") ("INLINE" NIL) ("de-DE" "en") "https://example.org/letter")',
    );
    expect(text(bodyStructureData(root, false))).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "utf-8" "FORMAT" "flowed") NIL NIL "QUOTED-PRINTABLE" 5 1)' +
        '("TEXT" "HTML" ("CHARSET" "utf-8") "<html@example.org>" "HTML version" "7BIT" 12 1) "ALTERNATIVE")',
    );
  });

  it('writes a nested message/rfc822 with its envelope, body and lines', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=outer',
      '',
      '--outer',
      '',
      'See the forwarded message.',
      '--outer',
      'Content-Type: message/rfc822',
      '',
      'From: Inner <inner@example.org>',
      'Subject: inner',
      'Content-Type: multipart/alternative; boundary=inner',
      '',
      '--inner',
      '',
      'plain',
      '--inner',
      'Content-Type: text/html',
      '',
      '<b>html</b>',
      '--inner--',
      '--outer--',
    );
    const root = parseMessage(raw);
    const message = root.parts[1]!;
    expect(text(bodyStructureData(root, false))).toBe(
      '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 26 1)' +
        `("MESSAGE" "RFC822" NIL NIL NIL "7BIT" ${message.size} ` +
        '(NIL "inner" (("Inner" NIL "inner" "example.org")) (("Inner" NIL "inner" "example.org")) (("Inner" NIL "inner" "example.org")) NIL NIL NIL NIL NIL) ' +
        '(("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 5 1)("TEXT" "HTML" ("CHARSET" "us-ascii") NIL NIL "7BIT" 11 1) "ALTERNATIVE") ' +
        `${message.lines}) "MIXED")`,
    );
    expect(message.lines).toBe(12); // the inner message's last line ends at the outer delimiter
  });

  it('writes message/global as an encapsulated message only under UTF-8 (RFC 9051 media-message)', () => {
    const root = parseMessage(crlf('Content-Type: message/global', '', 'Subject: Grüße', '', 'x'));
    expect(root.message).not.toBeNull();
    const size = root.size;
    expect(text(bodyStructureData(root, false))).toBe(`("MESSAGE" "GLOBAL" NIL NIL NIL "7BIT" ${size})`);
    expect(text(bodyStructureData(root, false, { utf8: true }), true)).toBe(
      `("MESSAGE" "GLOBAL" NIL NIL NIL "7BIT" ${size} (NIL "Grüße" NIL NIL NIL NIL NIL NIL NIL NIL) ` +
        '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 1 1) 3)',
    );
  });

  it('sends decoded RFC 2231 values as name* parameters to IMAP4rev1 clients', async () => {
    const raw = crlf(
      'Content-Type: application/pdf; name*0*=UTF-8\'\'%C3%84rger%20und; name*1=" Freude.pdf"',
      "Content-Disposition: attachment; filename*=iso-8859-1'de'%E4%20%281%29*.pdf; size=42",
      'Content-Transfer-Encoding: base64',
      '',
      'AAAA',
    );
    const root = parseMessage(raw);
    expect(root.contentType.params.name).toBe('Ärger und Freude.pdf');
    expect(text(bodyStructureData(root, true))).toBe(
      '("APPLICATION" "PDF" ("NAME*" "utf-8\'\'%C3%84rger%20und%20Freude.pdf") NIL NIL "BASE64" 4 NIL ' +
        '("ATTACHMENT" ("SIZE" "42" "FILENAME*" "utf-8\'\'%C3%A4%20%281%29%2A.pdf")) NIL NIL)',
    );
    expect(text(bodyStructureData(root, true, { utf8: true }), true)).toBe(
      '("APPLICATION" "PDF" ("NAME" "Ärger und Freude.pdf") NIL NIL "BASE64" 4 NIL ' +
        '("ATTACHMENT" ("SIZE" "42" "FILENAME" "ä (1)*.pdf")) NIL NIL)',
    );
    for (const utf8 of [false, true]) {
      const parsed = parseBodystructure((await roundTrip(bodyStructureData(root, true, { utf8 }), utf8)) as ImapAttributeList);
      expect(parsed.parameters).toEqual({ name: 'Ärger und Freude.pdf' });
      expect(parsed.disposition).toBe('attachment');
      expect(parsed.dispositionParameters).toEqual({ filename: 'ä (1)*.pdf', size: '42' });
    }
  });

  it('escapes quotes and backslashes in parameter values', async () => {
    const root = parseMessage(crlf('Content-Type: text/plain; name="say \\"hi\\" C:\\\\x.txt"; charset=us-ascii', '', 'x'));
    expect(root.contentType.params.name).toBe('say "hi" C:\\x.txt');
    expect(text(bodyStructureData(root, false))).toBe(
      '("TEXT" "PLAIN" ("NAME" "say \\"hi\\" C:\\\\x.txt" "CHARSET" "us-ascii") NIL NIL "7BIT" 1 1)',
    );
    const parsed = parseBodystructure((await roundTrip(bodyStructureData(root, true))) as ImapAttributeList);
    expect(parsed.parameters).toEqual({ name: 'say "hi" C:\\x.txt', charset: 'us-ascii' });
  });
});

// ---- real messages: our BODYSTRUCTURE read back with imapflow's parseBodystructure matches the MimePart tree ----

type Parsed = ReturnType<typeof parseBodystructure>;

/** What imapflow should make of a part: its reader lower-cases, skips zero numbers and RFC 2231-decodes. */
function expectMatches(parsed: Parsed, mime: MimePart, path: string, extended: boolean): void {
  const where = `part ${path || 'root'}`;
  const { type, subtype, params } = mime.contentType;
  expect(parsed.part ?? '', where).toBe(path);
  expect(parsed.type, where).toBe(`${type}/${subtype}`);
  const expectedParams = type === 'text' && !('charset' in params) ? { charset: 'us-ascii', ...params } : { ...params };
  const lowerKeys = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.toLowerCase(), v]));
  if (type === 'multipart') {
    expect(parsed.childNodes?.length, where).toBe(mime.parts.length);
    mime.parts.forEach((child, i) => expectMatches(parsed.childNodes![i]!, child, path ? `${path}.${i + 1}` : String(i + 1), extended));
    if (extended) expect(parsed.parameters, where).toEqual(lowerKeys(expectedParams));
  } else {
    if (Object.keys(expectedParams).length > 0) expect(parsed.parameters, where).toEqual(lowerKeys(expectedParams));
    else expect(parsed.parameters, where).toBeUndefined();
    expect(parsed.id, where).toBe(mime.id ?? undefined);
    expect(parsed.description, where).toBe(mime.description ?? undefined);
    expect(parsed.encoding, where).toBe(mime.encoding.toLowerCase());
    expect(parsed.size, where).toBe(mime.size || undefined);
    if (type === 'text' || mime.message) expect(parsed.lineCount, where).toBe(mime.lines || undefined);
    else expect(parsed.lineCount, where).toBeUndefined();
    if (mime.message) {
      const envelope = mime.message.envelope;
      expect(parsed.envelope?.subject, where).toBe(envelope.subject || undefined);
      expect(parsed.envelope?.messageId, where).toBe(envelope.messageId || undefined);
      const inner = mime.message.part;
      // imapflow numbers the encapsulated message's parts from the message/rfc822 part itself
      expectMatches(parsed.childNodes![0]!, inner, path, extended);
    }
    if (extended) expect(parsed.md5, where).toBe(mime.md5?.toLowerCase());
  }
  if (extended) {
    expect(parsed.disposition, where).toBe(mime.disposition?.type);
    if (mime.disposition && Object.keys(mime.disposition.params).length > 0) {
      expect(parsed.dispositionParameters, where).toEqual(mime.disposition.params);
    }
    expect(parsed.language, where).toEqual(mime.language?.map((l) => l.toLowerCase()));
    expect(parsed.location, where).toBe(mime.location ?? undefined);
  }
}

const REAL_MESSAGES: Record<string, Buffer> = {
  'plain without MIME headers': crlf('From: a@example.org', 'Subject: hi', '', 'one', 'two', ''),
  'newsletter: alternative inside related inside mixed': crlf(
    'From: "News" <news@example.com>',
    'To: Readers:;',
    'Subject: =?utf-8?B?TmV3c2xldHRlcg==?=',
    'Message-ID: <n1@example.com>',
    'MIME-Version: 1.0',
    'Content-Type: multipart/mixed; boundary="m"',
    '',
    'This is a multi-part message in MIME format.',
    '--m',
    'Content-Type: multipart/related; boundary="r"; type="multipart/alternative"',
    '',
    '--r',
    'Content-Type: multipart/alternative; boundary="a"',
    '',
    '--a',
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 8bit',
    '',
    'Grüße',
    '--a',
    'Content-Type: text/html; charset=UTF-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<p>Gr=C3=BC=C3=9Fe <img src=3D"cid:logo@example.com"></p>',
    '--a--',
    '--r',
    'Content-Type: image/png; name="logo.png"',
    'Content-ID: <logo@example.com>',
    'Content-Disposition: inline; filename="logo.png"',
    'Content-Transfer-Encoding: base64',
    '',
    'iVBORw0KGgo=',
    '--r--',
    '--m',
    'Content-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document;',
    '\tname*=UTF-8\'\'Bericht%20%C3%BCber%20%22Q3%22.docx',
    'Content-Disposition: attachment;',
    '\tfilename*0*=UTF-8\'\'Bericht%20%C3%BC;',
    '\tfilename*1*=ber%20%22Q3%22.docx',
    'Content-Transfer-Encoding: base64',
    'Content-Language: de',
    '',
    'UEsDBBQAAAAIAA==',
    '--m--',
    '',
  ),
  'bounce: multipart/report with delivery-status and a returned message': crlf(
    'From: MAILER-DAEMON@example.org',
    'To: sender@example.com',
    'Subject: Undelivered Mail Returned to Sender',
    'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
    '',
    '--b',
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'I could not deliver your message.',
    '--b',
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.org',
    '',
    'Final-Recipient: rfc822; nobody@example.org',
    'Action: failed',
    'Status: 5.1.1',
    '--b',
    'Content-Description: Undelivered Message',
    'Content-Type: message/rfc822',
    '',
    'From: sender@example.com',
    'To: nobody@example.org',
    'Subject: hello',
    'Message-ID: <orig@example.com>',
    'Content-Type: multipart/mixed; boundary=inner',
    '',
    '--inner',
    '',
    'hello',
    '--inner',
    'Content-Type: message/rfc822',
    '',
    'Subject: deeper',
    '',
    'deepest text',
    '--inner--',
    '--b--',
    '',
  ),
  'digest with implicit message/rfc822 parts': crlf(
    'Subject: Digest',
    'Content-Type: multipart/digest; boundary=d',
    '',
    '--d',
    '',
    'Subject: first',
    '',
    'first body',
    '--d',
    '',
    'Subject: second',
    'Content-Type: text/plain; charset=iso-8859-1',
    'Content-MD5: AbCdEf==',
    'Content-Location: http://example.org/2',
    '',
    'second body',
    '--d--',
  ),
};

describe('real messages read back with imapflow', () => {
  for (const [name, raw] of Object.entries(REAL_MESSAGES)) {
    it(name, async () => {
      const root = parseMessage(raw);
      for (const utf8 of [false, true]) {
        const wire = fetchResponse(
          3,
          [
            ['UID', 103],
            ['FLAGS', flagsData(['\\Seen', '$Label1'])],
            ['ENVELOPE', envelopeData(buildEnvelope(root.headers))],
            ['BODY', bodyStructureData(root, false, { utf8 })],
            ['BODYSTRUCTURE', bodyStructureData(root, true, { utf8 })],
          ],
          { utf8 },
        );
        const { seq, items } = await readFetch(wire);
        expect(seq).toBe('3');
        expect(plain(items.get('UID')!)).toEqual({ atom: '103' });
        expect(plain(items.get('FLAGS')!)).toEqual([{ atom: '\\Seen' }, { atom: '$Label1' }]);
        const envelope = parseEnvelope(items.get('ENVELOPE') as ImapAttributeList);
        expect(envelope.subject).toBe(root.headers.find((h) => h.key === 'subject')?.value.replace('=?utf-8?B?TmV3c2xldHRlcg==?=', 'Newsletter'));
        expectMatches(parseBodystructure(items.get('BODYSTRUCTURE') as ImapAttributeList), root, '', true);
        expectMatches(parseBodystructure(items.get('BODY') as ImapAttributeList), root, '', false);
      }
    });
  }

  it('decodes the RFC 2231 attachment names of the newsletter', async () => {
    const root = parseMessage(REAL_MESSAGES['newsletter: alternative inside related inside mixed']!);
    const parsed = parseBodystructure((await roundTrip(bodyStructureData(root, true))) as ImapAttributeList);
    const attachment = parsed.childNodes![1]!;
    expect(attachment.parameters).toEqual({ name: 'Bericht über "Q3".docx' });
    expect(attachment.dispositionParameters).toEqual({ filename: 'Bericht über "Q3".docx' });
  });

  it('serializes 10,000 FETCH responses with ENVELOPE, BODYSTRUCTURE and FLAGS, encoding each once', () => {
    const root = parseMessage(REAL_MESSAGES['newsletter: alternative inside related inside mixed']!);
    const envelope = buildEnvelope(root.headers);
    // the time this takes is a figure of `bench imap` (FETCH 1:* with these items); here: the work is linear, each
    // response's text is built as one string and encoded once, not copied per token or per response before it
    const { result: bytes, allocated, allocations } = countBufferWork(() => {
      let bytes = 0;
      for (let seq = 1; seq <= 10_000; seq++) {
        bytes += fetchResponse(seq, [
          ['UID', seq],
          ['FLAGS', flagsData(['\\Seen'])],
          ['ENVELOPE', envelopeData(envelope)],
          ['BODYSTRUCTURE', bodyStructureData(root, true)],
        ]).length;
      }
      return bytes;
    });
    expect(bytes).toBeGreaterThan(10_000 * 500);
    // one Buffer per response here; a copy per token would be hundreds, a growing concatenation quadratic in bytes
    expect(allocations).toBeLessThanOrEqual(2 * 10_000);
    expect(allocated).toBeLessThanOrEqual(2 * bytes);
  });
});
