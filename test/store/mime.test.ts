// Tests for the MIME structure parser: part tree, byte offsets, defaults and hostile input (server/store/mime.ts).
import { describe, it, expect } from 'vitest';
import { parseMessage, findPart, type MimePart } from '../../server/store/mime.js';
import { countBufferWork } from '../helpers/work.js';

const crlf = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
const body = (raw: Buffer, part: MimePart): string => raw.subarray(part.bodyStart, part.bodyEnd).toString('utf8');
const header = (raw: Buffer, part: MimePart): string => raw.subarray(part.headerStart, part.bodyStart).toString('utf8');

/** Every part's offsets lie inside the message and inside its parent; returns the number of parts. */
function checkOffsets(raw: Buffer, part: MimePart, lo = 0, hi = raw.length): number {
  expect(part.headerStart).toBeGreaterThanOrEqual(lo);
  expect(part.bodyStart).toBeGreaterThanOrEqual(part.headerStart);
  expect(part.bodyEnd).toBeGreaterThanOrEqual(part.bodyStart);
  expect(part.bodyEnd).toBeLessThanOrEqual(hi);
  expect(part.size).toBe(part.bodyEnd - part.bodyStart);
  let count = 1;
  for (const child of part.parts) count += checkOffsets(raw, child, part.bodyStart, part.bodyEnd);
  if (part.message) count += checkOffsets(raw, part.message.part, part.bodyStart, part.bodyEnd);
  return count;
}

function maxDepth(part: MimePart): number {
  const children = [...part.parts, ...(part.message ? [part.message.part] : [])];
  return 1 + Math.max(0, ...children.map(maxDepth));
}

describe('simple text message', () => {
  const raw = crlf(
    'Received: from mx.example.org',
    '\tby mail.example.com; Tue, 1 Jul 2025 10:00:00 +0000',
    'From: Alice <alice@example.org>',
    'Subject : Hello',
    '',
    'Hello Bob,',
    'how are you?',
    '',
  );
  const root = parseMessage(raw);

  it('parses and unfolds header fields keeping the written name', () => {
    expect(root.headers).toEqual([
      { key: 'received', name: 'Received', value: 'from mx.example.org\tby mail.example.com; Tue, 1 Jul 2025 10:00:00 +0000' },
      { key: 'from', name: 'From', value: 'Alice <alice@example.org>' },
      { key: 'subject', name: 'Subject', value: 'Hello' },
    ]);
  });

  it('applies the RFC 2045 defaults', () => {
    expect(root.contentType).toEqual({ type: 'text', subtype: 'plain', params: { charset: 'us-ascii' } });
    expect(root.encoding).toBe('7BIT');
    expect(root.disposition).toBeNull();
    expect(root.id).toBeNull();
    expect(root.parts).toEqual([]);
    expect(root.message).toBeNull();
  });

  it('gives exact offsets, size and line count', () => {
    expect(root.headerStart).toBe(0);
    expect(header(raw, root).endsWith('Subject : Hello\r\n\r\n')).toBe(true);
    expect(body(raw, root)).toBe('Hello Bob,\r\nhow are you?\r\n');
    expect(root.bodyEnd).toBe(raw.length);
    expect(root.size).toBe(Buffer.byteLength('Hello Bob,\r\nhow are you?\r\n'));
    expect(root.lines).toBe(2);
  });

  it('counts a last line without line ending', () => {
    const part = parseMessage(crlf('Subject: x', '', 'one', 'two', 'three'));
    expect(part.lines).toBe(3);
    expect(part.size).toBe(15); // one CRLF two CRLF three
  });

  it('is part 1 of itself', () => {
    expect(findPart(root, [])).toBe(root);
    expect(findPart(root, [1])).toBe(root);
    expect(findPart(root, [2])).toBeNull();
    expect(findPart(root, [1, 1])).toBeNull();
    expect(findPart(root, [0])).toBeNull();
  });
});

describe('multipart/alternative', () => {
  const raw = crlf(
    'From: a@example.org',
    'Content-Type: Multipart/Alternative; boundary="=_alt 1"',
    '',
    'This is a multi-part message in MIME format.',
    '--=_alt 1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Plain text',
    'second line',
    '--=_alt 1',
    'Content-Type: text/html; charset="utf-8"',
    'Content-Transfer-Encoding: 8bit',
    '',
    '<p>Grüße</p>',
    '--=_alt 1--',
    'epilogue',
    '',
  );
  const root = parseMessage(raw);

  it('splits the parts at the delimiters', () => {
    expect(root.contentType.type).toBe('multipart');
    expect(root.contentType.subtype).toBe('alternative');
    expect(root.contentType.params.boundary).toBe('=_alt 1');
    expect(root.parts).toHaveLength(2);
    const [plain, html] = root.parts as [MimePart, MimePart];
    expect(plain.contentType).toEqual({ type: 'text', subtype: 'plain', params: { charset: 'utf-8' } });
    expect(body(raw, plain)).toBe('Plain text\r\nsecond line');
    expect(plain.lines).toBe(2);
    expect(html.encoding).toBe('8BIT');
    expect(body(raw, html)).toBe('<p>Grüße</p>');
    expect(html.size).toBe(Buffer.byteLength('<p>Grüße</p>'));
    expect(header(raw, html)).toBe('Content-Type: text/html; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n');
    expect(checkOffsets(raw, root)).toBe(3);
  });

  it('numbers the parts', () => {
    expect(findPart(root, [1])).toBe(root.parts[0]);
    expect(findPart(root, [2])).toBe(root.parts[1]);
    expect(findPart(root, [3])).toBeNull();
    expect(findPart(root, [1, 1])).toBeNull();
  });
});

describe('multipart/mixed with a base64 attachment', () => {
  const pdf = Buffer.from('%PDF-1.4 fake document '.repeat(20));
  const b64 = pdf.toString('base64').replace(/.{76}/g, '$&\r\n');
  const raw = crlf(
    'Content-Type: multipart/mixed; boundary=XyZ (a comment)',
    'MIME-Version: 1.0',
    '',
    '--XyZ',
    '',
    'Body without headers',
    '--XyZ  ',
    'Content-Type: application/pdf; name="report.pdf"',
    'Content-Disposition: attachment;',
    ' filename="report.pdf"; size=460',
    'Content-Transfer-Encoding: Base64',
    'Content-ID: <part2@example.org>',
    'Content-Description: Quarterly report',
    'Content-Language: en, de',
    'Content-Location: http://example.org/report.pdf',
    'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
    '',
    b64,
    '--XyZ--',
  );
  const root = parseMessage(raw);
  const [text, attachment] = root.parts as [MimePart, MimePart];

  it('takes the boundary despite a comment and transport padding', () => {
    expect(root.contentType.params).toEqual({ boundary: 'XyZ' });
    expect(root.parts).toHaveLength(2);
  });

  it('parses a part that has no header fields', () => {
    expect(text.headers).toEqual([]);
    expect(text.bodyStart).toBe(text.headerStart + 2);
    expect(text.contentType.subtype).toBe('plain');
    expect(body(raw, text)).toBe('Body without headers');
  });

  it('reads the MIME fields of the attachment', () => {
    expect(attachment.contentType).toEqual({ type: 'application', subtype: 'pdf', params: { name: 'report.pdf' } });
    expect(attachment.disposition).toEqual({ type: 'attachment', params: { filename: 'report.pdf', size: '460' } });
    expect(attachment.encoding).toBe('BASE64');
    expect(attachment.id).toBe('<part2@example.org>');
    expect(attachment.description).toBe('Quarterly report');
    expect(attachment.language).toEqual(['en', 'de']);
    expect(attachment.location).toBe('http://example.org/report.pdf');
    expect(attachment.md5).toBe('Q2hlY2sgSW50ZWdyaXR5IQ==');
    expect(attachment.lines).toBe(0);
    expect(body(raw, attachment)).toBe(b64);
    expect(Buffer.from(body(raw, attachment), 'base64').equals(pdf)).toBe(true);
  });
});

describe('message/rfc822', () => {
  const inner = [
    'From: "Carol Q. Public" <carol@example.net>',
    'To: dave@example.net',
    'Subject: =?UTF-8?B?w5xiZXJ3ZWlzdW5n?=',
    'Date: Mon, 30 Jun 2025 08:00:00 +0200',
    'Message-ID: <inner@example.net>',
    'Content-Type: multipart/mixed; boundary=inner',
    '',
    '--inner',
    'Content-Type: text/plain',
    '',
    'inner text',
    '--inner',
    'Content-Type: image/gif',
    'Content-Transfer-Encoding: base64',
    '',
    'R0lGODlhAQABAAAAACw=',
    '--inner--',
  ];
  const raw = crlf(
    'From: bob@example.org',
    'Content-Type: multipart/mixed; boundary=outer',
    '',
    '--outer',
    'Content-Type: text/plain',
    '',
    'See the forwarded message.',
    '--outer',
    'Content-Type: message/rfc822',
    '',
    ...inner,
    '--outer--',
  );
  const root = parseMessage(raw);
  const forwarded = root.parts[1]!;

  it('parses the encapsulated message and its envelope', () => {
    expect(forwarded.contentType.type).toBe('message');
    expect(forwarded.message).not.toBeNull();
    const { envelope, part } = forwarded.message!;
    expect(envelope.subject).toBe('=?UTF-8?B?w5xiZXJ3ZWlzdW5n?=');
    expect(envelope.from).toEqual([{ name: 'Carol Q. Public', adl: null, mailbox: 'carol', host: 'example.net' }]);
    expect(envelope.sender).toEqual(envelope.from);
    expect(envelope.to).toEqual([{ name: null, adl: null, mailbox: 'dave', host: 'example.net' }]);
    expect(envelope.messageId).toBe('<inner@example.net>');
    expect(part.headerStart).toBe(forwarded.bodyStart);
    expect(part.bodyEnd).toBe(forwarded.bodyEnd);
    expect(part.parts).toHaveLength(2);
    expect(body(raw, part.parts[0]!)).toBe('inner text');
  });

  it('counts the lines of the message/rfc822 body', () => {
    expect(body(raw, forwarded)).toBe(inner.join('\r\n'));
    expect(forwarded.lines).toBe(inner.length);
  });

  it('numbers parts inside the encapsulated message (RFC 9051 §6.4.5)', () => {
    expect(findPart(root, [2])).toBe(forwarded);
    expect(findPart(root, [2, 1])).toBe(forwarded.message!.part.parts[0]);
    expect(findPart(root, [2, 2])!.contentType.subtype).toBe('gif');
    expect(findPart(root, [2, 3])).toBeNull();
    expect(findPart(root, [2, 1, 1])).toBeNull();
  });

  it('numbers a non-multipart encapsulated message as part 1', () => {
    const raw = crlf('Content-Type: message/rfc822', '', 'Subject: inner', '', 'text');
    const simple = parseMessage(raw);
    expect(simple.message!.envelope.subject).toBe('inner');
    expect(findPart(simple, [1])).toBe(simple);
    expect(findPart(simple, [1, 1])).toBe(simple.message!.part);
    expect(body(raw, simple.message!.part)).toBe('text');
    expect(findPart(simple, [1, 2])).toBeNull();
  });

  it('does not open an encoded message/rfc822', () => {
    const encoded = parseMessage(crlf('Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64', '', 'U3ViamVjdDogeA0KDQp4'));
    expect(encoded.message).toBeNull();
    expect(encoded.contentType).toEqual({ type: 'application', subtype: 'octet-stream', params: {} });
  });
});

describe('RFC 9051 §6.4.5 part numbering example', () => {
  const raw = crlf(
    'Subject: numbering',
    'Content-Type: MULTIPART/MIXED; boundary=a',
    '',
    '--a',
    'Content-Type: TEXT/PLAIN',
    '',
    'part 1',
    '--a',
    'Content-Type: APPLICATION/OCTET-STREAM',
    '',
    'part 2',
    '--a',
    'Content-Type: MESSAGE/RFC822',
    '',
    'Subject: part 3',
    'Content-Type: MULTIPART/MIXED; boundary=b',
    '',
    '--b',
    '',
    'part 3.1',
    '--b',
    'Content-Type: APPLICATION/OCTET-STREAM',
    '',
    'part 3.2',
    '--b--',
    '--a',
    'Content-Type: MULTIPART/MIXED; boundary=c',
    '',
    '--c',
    'Content-Type: IMAGE/GIF',
    '',
    'part 4.1',
    '--c',
    'Content-Type: MESSAGE/RFC822',
    '',
    'Subject: part 4.2',
    'Content-Type: MULTIPART/MIXED; boundary=d',
    '',
    '--d',
    'Content-Type: IMAGE/GIF',
    '',
    'part 4.2.1',
    '--d',
    'Content-Type: MULTIPART/ALTERNATIVE; boundary=e',
    '',
    '--e',
    'Content-Type: TEXT/PLAIN',
    '',
    'part 4.2.2.1',
    '--e',
    'Content-Type: TEXT/RICHTEXT',
    '',
    'part 4.2.2.2',
    '--e--',
    '--d--',
    '--c--',
    '--a--',
  );
  const root = parseMessage(raw);
  const leaf = (section: number[]): string => {
    const part = findPart(root, section);
    return part ? body(raw, part) : 'none';
  };
  const kind = (section: number[]): string => {
    const part = findPart(root, section);
    return part ? `${part.contentType.type}/${part.contentType.subtype}` : 'none';
  };

  it('finds every part of the example', () => {
    expect(leaf([1])).toBe('part 1');
    expect(leaf([2])).toBe('part 2');
    expect(kind([3])).toBe('message/rfc822');
    expect(findPart(root, [3])!.message!.envelope.subject).toBe('part 3');
    expect(leaf([3, 1])).toBe('part 3.1');
    expect(leaf([3, 2])).toBe('part 3.2');
    expect(kind([4])).toBe('multipart/mixed');
    expect(leaf([4, 1])).toBe('part 4.1');
    expect(kind([4, 2])).toBe('message/rfc822');
    expect(leaf([4, 2, 1])).toBe('part 4.2.1');
    expect(kind([4, 2, 2])).toBe('multipart/alternative');
    expect(leaf([4, 2, 2, 1])).toBe('part 4.2.2.1');
    expect(leaf([4, 2, 2, 2])).toBe('part 4.2.2.2');
    expect(kind([4, 2, 2, 3])).toBe('none');
    expect(kind([5])).toBe('none');
    expect(checkOffsets(raw, root)).toBe(15); // 13 numbered parts, root and two encapsulated bodies
  });
});

describe('multipart/digest', () => {
  const raw = crlf(
    'Content-Type: multipart/digest; boundary=d',
    '',
    '--d',
    '',
    'Subject: first digest entry',
    'From: one@example.org',
    '',
    'entry one',
    '--d',
    'Content-Type: text/plain',
    '',
    'not a message',
    '--d--',
  );
  const root = parseMessage(raw);

  it('defaults its parts to message/rfc822 (RFC 2046 §5.1.5)', () => {
    const [entry, note] = root.parts as [MimePart, MimePart];
    expect(entry.contentType).toEqual({ type: 'message', subtype: 'rfc822', params: {} });
    expect(entry.message!.envelope.subject).toBe('first digest entry');
    expect(entry.message!.envelope.from).toEqual([{ name: null, adl: null, mailbox: 'one', host: 'example.org' }]);
    expect(body(raw, entry.message!.part)).toBe('entry one');
    expect(entry.message!.part.contentType.subtype).toBe('plain');
    expect(note.contentType.subtype).toBe('plain');
    expect(note.message).toBeNull();
  });
});

describe('Content-Type parameters', () => {
  const param = (contentType: string): Record<string, string> => parseMessage(crlf(`Content-Type: ${contentType}`, '', 'x')).contentType.params;

  it('joins and decodes RFC 2231 continuations', () => {
    expect(param("application/pdf; filename*0*=UTF-8''%E2%82%AC%20rate; filename*1=\" table\"; filename*2*=%2Epdf")).toEqual({
      filename: '€ rate table.pdf',
    });
  });

  it('decodes an RFC 2231 charset other than UTF-8', () => {
    expect(param("text/plain; title*=iso-8859-1'de'Gr%FC%DFe")).toEqual({ title: 'Grüße' });
  });

  it('prefers the RFC 2231 form over a plain parameter of the same name', () => {
    expect(param("application/pdf; name=\"fallback.pdf\"; name*=utf-8''%C3%A9t%C3%A9.pdf")).toEqual({ name: 'été.pdf' });
  });

  it('orders segments by number, not by position', () => {
    expect(param('text/plain; a*1=world; a*0="hello "')).toEqual({ a: 'hello world' });
  });

  it('applies RFC 2231 to Content-Disposition too', () => {
    const part = parseMessage(crlf("Content-Disposition: attachment; filename*=utf-8''%F0%9F%93%8E.txt", '', 'x'));
    expect(part.disposition).toEqual({ type: 'attachment', params: { filename: '📎.txt' } });
  });

  it('unquotes values, lower-cases names and keeps unknown escapes', () => {
    expect(param('TEXT/PLAIN; CharSet="UTF-8"; Name="a \\"quoted\\" name"; format=flowed')).toEqual({
      charset: 'UTF-8',
      name: 'a "quoted" name',
      format: 'flowed',
    });
  });

  it('tolerates junk parameters and unterminated quotes', () => {
    expect(param('text/plain; ; novalue; charset=utf-8; name="open')).toEqual({ charset: 'utf-8', name: 'open' });
  });

  it('falls back to text/plain for an invalid Content-Type (RFC 2045 §5.2)', () => {
    expect(parseMessage(crlf('Content-Type: text', '', 'x')).contentType).toEqual({
      type: 'text',
      subtype: 'plain',
      params: { charset: 'us-ascii' },
    });
    expect(parseMessage(crlf('Content-Type: a/b/c', '', 'x')).contentType.subtype).toBe('plain');
  });

  it('keeps object-prototype names as plain parameters', () => {
    const params = param('text/plain; __proto__=x; constructor=y');
    expect(params['__proto__']).toBe('x');
    expect(params['constructor']).toBe('y');
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });
});

describe('broken multiparts', () => {
  it('reports a multipart without boundary as an opaque leaf', () => {
    const raw = crlf('Content-Type: multipart/mixed', '', '--x', '', 'text', '--x--');
    const root = parseMessage(raw);
    expect(root.contentType).toEqual({ type: 'application', subtype: 'octet-stream', params: {} });
    expect(root.parts).toEqual([]);
    expect(root.headers[0]!.value).toBe('multipart/mixed');
    expect(body(raw, root)).toBe('--x\r\n\r\ntext\r\n--x--');
    expect(findPart(root, [1])).toBe(root);
  });

  it('reports a multipart whose boundary never appears as an opaque leaf', () => {
    const root = parseMessage(crlf('Content-Type: multipart/mixed; boundary=zz', '', 'just text', '--z', ''));
    expect(root.contentType.subtype).toBe('octet-stream');
    expect(root.parts).toEqual([]);
  });

  it('runs the last part to the end when the close delimiter is missing', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Type: text/plain', '', 'first', '--b', '', 'cut off here');
    const root = parseMessage(raw);
    expect(root.parts.map((p) => body(raw, p))).toEqual(['first', 'cut off here']);
    expect(root.parts[1]!.bodyEnd).toBe(raw.length);
  });

  it('handles a message truncated inside a part header', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Type: text/pl');
    const root = parseMessage(raw);
    expect(root.parts).toHaveLength(1);
    const [part] = root.parts as [MimePart];
    expect(part.bodyStart).toBe(raw.length);
    expect(part.size).toBe(0);
    expect(part.contentType).toEqual({ type: 'text', subtype: 'pl', params: {} }); // taken as far as it was written
  });

  it('handles a message with only a header and no blank line', () => {
    const raw = Buffer.from('Subject: no body\r\nFrom: x@y');
    const root = parseMessage(raw);
    expect(root.headers.map((h) => h.key)).toEqual(['subject', 'from']);
    expect(root.bodyStart).toBe(raw.length);
    expect(root.size).toBe(0);
    expect(root.lines).toBe(0);
  });

  it('handles empty input and body-only input', () => {
    const empty = parseMessage(Buffer.alloc(0));
    expect([empty.bodyStart, empty.bodyEnd, empty.headers.length]).toEqual([0, 0, 0]);
    const bodyOnly = parseMessage(Buffer.from('\r\nno header at all'));
    expect(bodyOnly.headers).toEqual([]);
    expect(body(Buffer.from('\r\nno header at all'), bodyOnly)).toBe('no header at all');
  });

  it('skips header lines without a colon and invalid field names', () => {
    const root = parseMessage(crlf('From sender@example.org Tue Jul  1 10:00:00 2025', 'Bad Name: x', 'Subject: ok', '', 'b'));
    expect(root.headers).toEqual([{ key: 'subject', name: 'Subject', value: 'ok' }]);
  });

  it('does not take a longer boundary that shares the prefix for its own', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=abc',
      '',
      '--abc',
      'Content-Type: multipart/alternative; boundary=abcdef',
      '',
      '--abcdef',
      '',
      'inner one',
      '--abcdef',
      '',
      'inner two',
      '--abcdef--',
      '--abc',
      '',
      'outer two',
      '--abc--',
    );
    const root = parseMessage(raw);
    expect(root.parts).toHaveLength(2);
    expect(root.parts[0]!.parts.map((p) => body(raw, p))).toEqual(['inner one', 'inner two']);
    expect(body(raw, root.parts[1]!)).toBe('outer two');
  });

  it('lets an outer delimiter end an unterminated inner multipart', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=out',
      '',
      '--out',
      'Content-Type: multipart/alternative; boundary=in',
      '',
      '--in',
      '',
      'inner',
      '--out',
      '',
      'second',
      '--out--',
    );
    const root = parseMessage(raw);
    expect(root.parts).toHaveLength(2);
    expect(body(raw, root.parts[0]!.parts[0]!)).toBe('inner');
    expect(body(raw, root.parts[1]!)).toBe('second');
  });

  it('never throws on random bytes and keeps offsets in bounds', () => {
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const pieces = ['\r\n', '\n', '--b', '--b--', 'Content-Type: multipart/mixed; boundary=b', 'Content-Type: message/rfc822',
      ': ', ' ', 'x', '\r', '"', '(', ';', '=?', 'filename*0*=', '%', '\xff'];
    for (let round = 0; round < 300; round++) {
      const text = Array.from({ length: random(200) }, () => pieces[random(pieces.length)]).join('');
      const raw = Buffer.from(text, 'latin1');
      const root = parseMessage(raw);
      checkOffsets(raw, root);
    }
  });
});

describe('bare LF line endings', () => {
  const raw = Buffer.from(
    ['Subject: bare', ' folded', 'Content-Type: multipart/mixed; boundary=b', '', '--b', 'Content-Type: text/plain', '', 'line one', 'line two', '--b', '', 'two', '--b--', ''].join('\n'),
  );
  const root = parseMessage(raw);

  it('parses headers, parts and line counts the same way', () => {
    expect(root.headers[0]).toEqual({ key: 'subject', name: 'Subject', value: 'bare folded' });
    expect(root.parts).toHaveLength(2);
    expect(body(raw, root.parts[0]!)).toBe('line one\nline two');
    expect(root.parts[0]!.lines).toBe(2);
    expect(body(raw, root.parts[1]!)).toBe('two');
    expect(header(raw, root.parts[0]!)).toBe('Content-Type: text/plain\n\n');
  });
});

describe('nesting and part-count bombs', () => {
  it('survives 5000 nested multiparts without stack overflow', () => {
    const depth = 5000;
    const lines: string[] = [];
    for (let i = 0; i < depth; i++) lines.push(`Content-Type: multipart/mixed; boundary=b${i}`, '', `--b${i}`);
    lines.push('Content-Type: text/plain', '', 'deepest');
    for (let i = depth - 1; i >= 0; i--) lines.push(`--b${i}--`);
    const raw = crlf(...lines);
    const root = parseMessage(raw);
    expect(maxDepth(root)).toBeLessThanOrEqual(34);
    let part = root;
    while (part.parts.length > 0) part = part.parts[0]!;
    expect(part.contentType).toEqual({ type: 'application', subtype: 'octet-stream', params: {} });
    expect(part.headers[0]!.value).toMatch(/^multipart\/mixed; boundary=b\d+$/);
    checkOffsets(raw, root);
  });

  it('survives deeply nested message/rfc822', () => {
    const raw = Buffer.from('Content-Type: message/rfc822\r\n\r\n'.repeat(3000) + 'Subject: deep\r\n\r\nx');
    const root = parseMessage(raw);
    expect(maxDepth(root)).toBeLessThanOrEqual(34);
    checkOffsets(raw, root);
  });

  it('stops adding parts at 10000', () => {
    const lines = ['Content-Type: multipart/mixed; boundary=p', ''];
    for (let i = 0; i < 20_000; i++) lines.push('--p', '', `part ${i}`);
    lines.push('--p--');
    const raw = crlf(...lines);
    const root = parseMessage(raw);
    expect(checkOffsets(raw, root)).toBe(10_000);
    expect(body(raw, root.parts.at(-1)!)).toBe('part 9998');
  });
});

describe('large messages', () => {
  it('parses a 20 MB attachment by offsets: neither copies nor decodes it', () => {
    const attachment = Buffer.alloc(15 * 1024 * 1024, 7).toString('base64').replace(/.{76}/g, '$&\r\n');
    const raw = crlf('Content-Type: multipart/mixed; boundary=big', '', '--big', '', 'hi', '--big',
      'Content-Type: application/octet-stream', 'Content-Transfer-Encoding: base64', '', attachment, '--big--');
    const work = countBufferWork(() => parseMessage(raw));
    const root = work.result;
    expect(root.parts[1]!.size).toBe(Buffer.byteLength(attachment));
    // the headers are read, the 20 MB body only scanned for its boundary
    expect(work.allocated).toBeLessThan(64 * 1024);
    expect(work.decoded).toBeLessThan(64 * 1024);
  });
});
