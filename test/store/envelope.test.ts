// Tests for IMAP ENVELOPE construction and the RFC 5322 address-list parser (server/store/envelope.ts).
import { describe, it, expect } from 'vitest';
import { buildEnvelope, parseAddressList, type EnvelopeAddress } from '../../server/store/envelope.js';
import { parseMessage, type HeaderField } from '../../server/store/mime.js';

const fields = (...lines: string[]): HeaderField[] => parseMessage(Buffer.from(lines.join('\r\n') + '\r\n\r\n')).headers;
const addr = (name: string | null, mailbox: string | null, host: string | null): EnvelopeAddress => ({ name, adl: null, mailbox, host });
const groupEnd = addr(null, null, null);

describe('buildEnvelope', () => {
  it('fills every member from the header fields', () => {
    const envelope = buildEnvelope(
      fields(
        'Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
        'From: Terry Gray <gray@cac.washington.edu>',
        'Subject: IMAP4rev1 WG mtg summary and minutes',
        'To: imap@cac.washington.edu',
        'Cc: minutes@CNRI.Reston.VA.US,',
        '  John Klensin <KLENSIN@MIT.EDU>',
        'Bcc: hidden@example.org',
        'In-Reply-To: <parent@example.org>',
        'Message-Id: <B27397-0100000@cac.washington.edu>',
      ),
    );
    // the example of RFC 3501 §7.4.2 FETCH response
    expect(envelope).toEqual({
      date: 'Wed, 17 Jul 1996 02:23:25 -0700 (PDT)',
      subject: 'IMAP4rev1 WG mtg summary and minutes',
      from: [addr('Terry Gray', 'gray', 'cac.washington.edu')],
      sender: [addr('Terry Gray', 'gray', 'cac.washington.edu')],
      replyTo: [addr('Terry Gray', 'gray', 'cac.washington.edu')],
      to: [addr(null, 'imap', 'cac.washington.edu')],
      cc: [addr(null, 'minutes', 'CNRI.Reston.VA.US'), addr('John Klensin', 'KLENSIN', 'MIT.EDU')],
      bcc: [addr(null, 'hidden', 'example.org')],
      inReplyTo: '<parent@example.org>',
      messageId: '<B27397-0100000@cac.washington.edu>',
    });
  });

  it('uses From for a Sender or Reply-To that is absent or empty (RFC 3501 §7.4.2)', () => {
    const envelope = buildEnvelope(fields('From: a@example.org', 'Sender:', 'Reply-To: replies@example.org'));
    expect(envelope.sender).toEqual([addr(null, 'a', 'example.org')]);
    expect(envelope.replyTo).toEqual([addr(null, 'replies', 'example.org')]);
  });

  it('gives null for missing fields', () => {
    expect(buildEnvelope([])).toEqual({
      date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null,
    });
    expect(buildEnvelope(fields('To:   ')).to).toBeNull();
  });

  it('keeps encoded-words as written', () => {
    const envelope = buildEnvelope(
      fields('Subject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus Berlin', 'From: =?UTF-8?B?SsO2cmc=?= <joerg@example.de>'),
    );
    expect(envelope.subject).toBe('=?ISO-8859-1?Q?Gr=FC=DFe?= aus Berlin');
    expect(envelope.from).toEqual([addr('=?UTF-8?B?SsO2cmc=?=', 'joerg', 'example.de')]);
  });

  it('takes the first of repeated fields', () => {
    expect(buildEnvelope(fields('Subject: one', 'Subject: two')).subject).toBe('one');
  });
});

describe('parseAddressList', () => {
  it('unquotes quoted display names', () => {
    expect(parseAddressList('"Doe, John" <john@example.com>, "Say \\"hi\\"" <hi@example.com>')).toEqual([
      addr('Doe, John', 'john', 'example.com'),
      addr('Say "hi"', 'hi', 'example.com'),
    ]);
  });

  it('joins phrase words and mixes quoted and plain words', () => {
    expect(parseAddressList('John  Q.   Public <jqp@example.com>')).toEqual([addr('John Q. Public', 'jqp', 'example.com')]);
    expect(parseAddressList('Dr. "Who" Smith <who@example.com>')).toEqual([addr('Dr. Who Smith', 'who', 'example.com')]);
  });

  it('flattens groups into start and end markers (RFC 9051 §7.5.2)', () => {
    expect(parseAddressList('A Group: Ed Jones <c@a.test>, joe@where.test, John <jdoe@one.test>; , Mary <mary@x.test>')).toEqual([
      addr(null, 'A Group', null),
      addr('Ed Jones', 'c', 'a.test'),
      addr(null, 'joe', 'where.test'),
      addr('John', 'jdoe', 'one.test'),
      groupEnd,
      addr('Mary', 'mary', 'x.test'),
    ]);
  });

  it('parses an empty group', () => {
    expect(parseAddressList('undisclosed-recipients:;')).toEqual([addr(null, 'undisclosed-recipients', null), groupEnd]);
  });

  it('closes an unterminated group', () => {
    expect(parseAddressList('"Team": a@b.test')).toEqual([addr(null, 'Team', null), addr(null, 'a', 'b.test'), groupEnd]);
  });

  it('ignores comments, and names a bare address by its comment', () => {
    expect(parseAddressList('Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>')).toEqual([
      addr('Pete', 'pete', 'silly.test'),
    ]);
    expect(parseAddressList('john@example.com (John Doe)')).toEqual([addr('John Doe', 'john', 'example.com')]);
    expect(parseAddressList('<john@example.com> (John (the) Doe)')).toEqual([addr('John (the) Doe', 'john', 'example.com')]);
  });

  it('keeps addresses without a domain apart from group markers', () => {
    expect(parseAddressList('root, Postmaster <postmaster>')).toEqual([addr(null, 'root', ''), addr('Postmaster', 'postmaster', '')]);
  });

  it('keeps quoted local parts and domain literals as written', () => {
    expect(parseAddressList('"john doe"@example.com, user@[192.0.2.1]')).toEqual([
      addr(null, '"john doe"', 'example.com'),
      addr(null, 'user', '[192.0.2.1]'),
    ]);
  });

  it('drops an obsolete source route', () => {
    expect(parseAddressList('Joe <@relay1.test,@relay2.test:joe@example.com>')).toEqual([addr('Joe', 'joe', 'example.com')]);
  });

  it('skips empty list members', () => {
    expect(parseAddressList(', a@b.test,,c@d.test,')).toEqual([addr(null, 'a', 'b.test'), addr(null, 'c', 'd.test')]);
  });

  it('keeps the null return path as an empty address', () => {
    expect(parseAddressList('<>')).toEqual([addr(null, '', '')]);
  });

  it('does not throw on malformed lists', () => {
    for (const value of ['"unterminated <a@b>', '<a@b', 'a@b>', '(((', ';;::,,', '@', '<@>', '\\', 'a@b@c', '"a" "b" :: ;', ']', 'a]b@c', '\f\v\u00a0\u2028', 'x\u00a0y <z@w>']) {
      expect(() => parseAddressList(value)).not.toThrow();
    }
    expect(parseAddressList('"unterminated <a@b>')).toEqual([addr(null, '"unterminated <a@b>', '')]);
    expect(parseAddressList('<a@b')).toEqual([addr(null, 'a', 'b')]);
    expect(parseAddressList('x]y@example.com')).toEqual([addr(null, 'x]y', 'example.com')]);
  });

  // a header with 20,000 addresses (a quadratic parser would hang here; tests never assert timings)
  it('parses a list of 20,000 addresses, each in its place', () => {
    const value = Array.from({ length: 20_000 }, (_, i) => `User ${i} <user${i}@example.com>`).join(', ');
    const list = parseAddressList(value);
    expect(list).toHaveLength(20_000);
    expect(list[10_000]).toEqual(addr('User 10000', 'user10000', 'example.com'));
    expect(list[19_999]).toEqual(addr('User 19999', 'user19999', 'example.com'));
  });
});
