// Tests for search columns and full-text body extraction (server/store/search-text.ts).
import { describe, it, expect } from 'vitest';
import { parseMessage } from '../../server/store/mime.js';
import { extractSearchFields, htmlToText, parseSentDate, decodeQuotedPrintable, type SearchFields } from '../../server/store/search-text.js';

const crlf = (...lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');
const fieldsOf = (raw: Buffer): SearchFields => extractSearchFields(raw, parseMessage(raw));

describe('header columns', () => {
  const raw = crlf(
    'From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>',
    'To: "Team" <team@example.org>, =?ISO-8859-1?B?U2Now7Zu?= <s@example.org>',
    'Cc: cc@example.org',
    'Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus',
    ' =?UTF-8?B?S8O2bG4=?=',
    'Message-ID: <abc.123@Example.ORG> ',
    'Date: Tue, 1 Jul 2025 10:52:37 +0200',
    'X-Mailer: Test',
    '',
    'body',
  );
  const fields = fieldsOf(raw);

  it('decodes encoded-words and keeps case', () => {
    expect(fields.subject).toBe('Grüße aus Köln');
    expect(fields.from).toBe('Jörg Müller <joerg@example.de>');
    expect(fields.to).toBe('"Team" <team@example.org>, SchÃ¶n <s@example.org>');
    expect(fields.cc).toBe('cc@example.org');
    expect(fields.bcc).toBe('');
    expect(fields.messageId).toBe('<abc.123@Example.ORG>');
  });

  it('parses the sent date', () => {
    expect(fields.sentDate).toBe(Date.UTC(2025, 6, 1, 8, 52, 37));
  });

  it('lists every header line decoded', () => {
    expect(fields.headers.split('\n')).toEqual([
      'From: Jörg Müller <joerg@example.de>',
      'To: "Team" <team@example.org>, SchÃ¶n <s@example.org>',
      'Cc: cc@example.org',
      'Subject: Grüße aus Köln',
      'Message-ID: <abc.123@Example.ORG>',
      'Date: Tue, 1 Jul 2025 10:52:37 +0200',
      'X-Mailer: Test',
    ]);
  });

  it('joins repeated address fields', () => {
    expect(fieldsOf(crlf('To: a@example.org', 'To: b@example.org', '', 'x')).to).toBe('a@example.org, b@example.org');
  });

  it('leaves malformed encoded-words as written', () => {
    expect(fieldsOf(crlf('Subject: =?bogus text', '', 'x')).subject).toBe('=?bogus text');
  });
});

describe('parseSentDate', () => {
  it('reads RFC 5322 dates with offsets and comments', () => {
    expect(parseSentDate('Fri, 21 Nov 1997 09:55:06 -0600')).toBe(Date.UTC(1997, 10, 21, 15, 55, 6));
    expect(parseSentDate('21 Nov 1997 09:55 +0000 (UTC)')).toBe(Date.UTC(1997, 10, 21, 9, 55, 0));
    expect(parseSentDate('Thu,\r\n 13 Feb 1969 23:32:54 -0330 (Newfoundland Time)')).toBe(Date.UTC(1969, 1, 14, 3, 2, 54));
  });

  it('reads obsolete zones and two-digit years (RFC 5322 §4.3)', () => {
    expect(parseSentDate('Mon, 3 Mar 97 12:00:00 EST')).toBe(Date.UTC(1997, 2, 3, 17, 0, 0));
    expect(parseSentDate('3 Mar 05 12:00:00 GMT')).toBe(Date.UTC(2005, 2, 3, 12, 0, 0));
    expect(parseSentDate('3 Mar 2005 12:00:00 A')).toBe(Date.UTC(2005, 2, 3, 12, 0, 0));
  });

  it('falls back to ISO dates and rejects junk', () => {
    expect(parseSentDate('2025-07-01T10:00:00Z')).toBe(Date.UTC(2025, 6, 1, 10, 0, 0));
    expect(parseSentDate('not a date')).toBeNull();
    expect(parseSentDate('32 Foo 2025 99:99:99')).toBeNull();
    expect(fieldsOf(crlf('Subject: x', '', 'y')).sentDate).toBeNull();
  });
});

describe('body text', () => {
  it('decodes quoted-printable ISO-8859-1 text', () => {
    const raw = crlf(
      'Content-Type: text/plain; charset=ISO-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Sch=F6ne Gr=FC=DFe aus M=FCnchen, dies ist eine sehr lange Zeile die umbro=',
      'chen wurde =3D ok   ',
      'Ende',
    );
    expect(fieldsOf(raw).body).toBe('Schöne Grüße aus München, dies ist eine sehr lange Zeile die umbrochen wurde = ok\nEnde');
  });

  it('decodes quoted-printable byte by byte', () => {
    expect(decodeQuotedPrintable(Buffer.from('a=C3=A9b =\r\nc=\nd = e=ZZ\t \r\nf')).toString()).toBe('aéb cd = e=ZZ\r\nf');
  });

  it('decodes base64 UTF-8 and other charsets', () => {
    const utf8 = Buffer.from('Привет, мир').toString('base64');
    expect(fieldsOf(crlf('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', utf8)).body).toBe('Привет, мир');
    const cp1251 = Buffer.from([0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2]);
    const raw = Buffer.concat([crlf('Content-Type: text/plain; charset=windows-1251', 'Content-Transfer-Encoding: 8bit', '', ''), cp1251]);
    expect(fieldsOf(raw).body).toBe('Привет');
  });

  it('reads undeclared 8-bit text as UTF-8, or Latin-1 when it is not UTF-8', () => {
    expect(fieldsOf(crlf('Subject: x', '', 'Grüße')).body).toBe('Grüße');
    const latin1 = Buffer.concat([crlf('Subject: x', '', ''), Buffer.from('Gr\xfc\xdfe', 'latin1')]);
    expect(fieldsOf(latin1).body).toBe('Grüße');
  });

  it('joins format=flowed lines (RFC 3676)', () => {
    const raw = crlf('Content-Type: text/plain; format=flowed', '', 'This is one ', 'paragraph.', 'Next');
    expect(fieldsOf(raw).body).toBe('This is one paragraph.\nNext');
  });

  it('takes text/plain and text/html parts, also inside attached messages, and skips attachments', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=m',
      '',
      '--m',
      'Content-Type: multipart/alternative; boundary=a',
      '',
      '--a',
      'Content-Type: text/plain',
      '',
      'plain version',
      '--a',
      'Content-Type: text/html',
      '',
      '<p>html version</p>',
      '--a--',
      '--m',
      'Content-Type: application/pdf',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('secret pdf words').toString('base64'),
      '--m',
      'Content-Type: text/calendar',
      '',
      'BEGIN:VCALENDAR',
      '--m',
      'Content-Type: message/rfc822',
      '',
      'Subject: forwarded',
      '',
      'forwarded text',
      '--m--',
    );
    expect(fieldsOf(raw).body).toBe('plain version\nhtml version\nforwarded text');
  });

  it('caps the body at 1 MB of UTF-8', () => {
    const text = 'ü'.repeat(1_500_000); // 3 MB of UTF-8
    const raw = crlf('Content-Type: text/plain; charset=utf-8', 'Content-Transfer-Encoding: base64', '', Buffer.from(text).toString('base64'));
    const { body } = fieldsOf(raw);
    expect(Buffer.byteLength(body)).toBe(1024 * 1024);
    expect(body).toBe('ü'.repeat(512 * 1024));
  });

  it('stops adding parts once the cap is reached', () => {
    const big = 'a'.repeat(1024 * 1024);
    const raw = crlf('Content-Type: multipart/mixed; boundary=b', '', '--b', '', big, '--b', '', 'later part', '--b--');
    const { body } = fieldsOf(raw);
    expect(body).toBe(big);
  });
});

describe('htmlToText', () => {
  it('drops tags, scripts, styles and comments', () => {
    const html = [
      '<!DOCTYPE html><html><head><title>Offer</title>',
      '<style type="text/css">p { color: red }</style>',
      '<SCRIPT>var hidden = "script text";</script></head>',
      '<body><!-- a comment with <p>tags</p> -->',
      '<p>Hello <b>W</b>orld,</p><div>see&nbsp;the <a href="https://example.org/?a=1&amp;b=2">link</a></div>',
      '<table><tr><td>cell one</td><td>cell two</td></tr></table>line<br>break',
      '</body></html>',
    ].join('\n');
    expect(htmlToText(html)).toBe('Offer\nHello World,\nsee the link\ncell one\ncell two\nline\nbreak');
  });

  it('decodes named and numeric entities', () => {
    expect(htmlToText('Caf&eacute; &amp; cr&#232;me &#x1F600; &lt;tag&gt; &euro;5 &unknown; &#0; &copy')).toBe(
      'Café & crème 😀 <tag> €5 &unknown; \uFFFD ©',
    );
  });

  it('keeps a lone less-than sign and survives unterminated markup', () => {
    expect(htmlToText('1 < 2 and 3 <4')).toBe('1 < 2 and 3 <4');
    expect(htmlToText('text <script>never closed')).toBe('text');
    expect(htmlToText('text <!-- never closed')).toBe('text');
    expect(htmlToText('text <b')).toBe('text');
  });

  it('reads hostile markup to the end: unterminated elements, comments and tags over 4 MB', () => {
    // 4 MB of openers that never close: linear work is milliseconds, searching ahead from each one (quadratic) would
    // be about 10^12 steps and never reach the test's timeout's end
    const text = (hostile: string) => htmlToText(`before ${hostile}`);
    expect(text('<script>'.repeat(500_000))).toBe('before');
    expect(text('<!--'.repeat(1_000_000))).toBe('before');
    expect(text('<a '.repeat(1_400_000))).toBe('before');
    expect(htmlToText('<b>fett</b> ' + '1 < 2 '.repeat(700_000)).length).toBeGreaterThan(4_000_000);
  });

  it('is used for text/html parts in any charset', () => {
    const raw = Buffer.concat([
      crlf('Content-Type: text/html; charset=iso-8859-1', 'Content-Transfer-Encoding: quoted-printable', '', ''),
      Buffer.from('<p>Gr=FC=DFe &amp; <i>Tsch=FC=DF</i></p>'),
    ]);
    expect(fieldsOf(raw).body).toBe('Grüße & Tschüß');
  });
});
