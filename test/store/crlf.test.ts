// CRLF normalisation, byte-stuffing and TOP's cut as POP3 streams a message: the same bytes whatever the chunking,
// including a CR and its LF, or a line's LF and the dot after it, falling into different chunks.
import { describe, expect, it } from 'vitest';
import { CrlfNormalizer, crlfSize } from '../../server/store/crlf.js';
import { DotStuffer, TopCutter } from '../../server/pop3/message.js';

/** Every way of cutting `text` into two chunks, plus one byte at a time. */
function chunkings(text: string): Buffer[][] {
  const bytes = Buffer.from(text, 'latin1');
  const out: Buffer[][] = [[...bytes].map((b) => Buffer.from([b]))];
  for (let i = 0; i <= bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  return out;
}

function normalize(chunks: Buffer[]): string {
  const n = new CrlfNormalizer();
  const out = Buffer.concat([...chunks.map((c) => n.push(c)), n.end()]);
  expect(n.size).toBe(out.length);
  return out.toString('latin1');
}

/** What POP3 sends for a message (without the final "." line), as the server's pipeline builds it. */
function pop3Body(chunks: Buffer[], lines?: number): string {
  const n = new CrlfNormalizer();
  const cut = lines === undefined ? null : new TopCutter(lines);
  const stuff = new DotStuffer();
  const parts: Buffer[] = [];
  for (const chunk of chunks) {
    parts.push(stuff.push(cut ? cut.push(n.push(chunk)) : n.push(chunk)));
    if (cut?.done) return Buffer.concat(parts).toString('latin1');
  }
  const tail = n.end();
  parts.push(stuff.push(cut ? cut.push(tail) : tail));
  return Buffer.concat(parts).toString('latin1');
}

describe('CrlfNormalizer', () => {
  const cases: Array<[string, string]> = [
    ['a\r\nb\r\n', 'a\r\nb\r\n'],
    ['a\nb\n', 'a\r\nb\r\n'],
    ['a\rb\r', 'a\r\nb\r\n'],
    ['a\r\r\nb', 'a\r\n\r\nb\r\n'],
    ['a\n\rb', 'a\r\n\r\nb\r\n'],
    ['ohne Ende', 'ohne Ende\r\n'],
    ['', '']
  ];
  it.each(cases)('%j becomes %j however it is chunked', (input, expected) => {
    for (const chunks of chunkings(input)) expect(normalize(chunks)).toBe(expected);
    expect(crlfSize(Buffer.from(input, 'latin1'))).toBe(Buffer.byteLength(expected, 'latin1'));
  });

  it('passes a clean chunk through without copying it', () => {
    const chunk = Buffer.from('Subject: x\r\n\r\nText\r\n');
    expect(new CrlfNormalizer().push(chunk)).toBe(chunk);
  });
});

describe('DotStuffer and TopCutter', () => {
  const message = 'Subject: S\r\nX: y\r\n\r\n.eins\r\nzwei\r\n..drei\r\nvier\r\n.\r\n';
  it('doubles every dot that starts a line, across chunk boundaries', () => {
    for (const chunks of chunkings(message)) expect(pop3Body(chunks)).toBe('Subject: S\r\nX: y\r\n\r\n..eins\r\nzwei\r\n...drei\r\nvier\r\n..\r\n');
  });

  it.each([
    [0, 'Subject: S\r\nX: y\r\n\r\n'],
    [1, 'Subject: S\r\nX: y\r\n\r\n..eins\r\n'],
    [3, 'Subject: S\r\nX: y\r\n\r\n..eins\r\nzwei\r\n...drei\r\n'],
    [99, 'Subject: S\r\nX: y\r\n\r\n..eins\r\nzwei\r\n...drei\r\nvier\r\n..\r\n']
  ])('TOP with %i body lines', (lines, expected) => {
    for (const chunks of chunkings(message)) expect(pop3Body(chunks, lines)).toBe(expected);
  });

  it('TOP of a message without a body, of one with bare LF, and of one that starts with the blank line', () => {
    for (const chunks of chunkings('Subject: nur Kopf')) expect(pop3Body(chunks, 2)).toBe('Subject: nur Kopf\r\n');
    for (const chunks of chunkings('A: b\n\nx\ny\n')) expect(pop3Body(chunks, 1)).toBe('A: b\r\n\r\nx\r\n');
    for (const chunks of chunkings('\r\nKörper\r\n')) expect(pop3Body(chunks, 0)).toBe('\r\n');
  });
});
