// Tests for SASL parsing: PLAIN vectors (RFC 4616) including malformed and hostile ones, authzid handling, strict
// base64 (RFC 4648), the `*` cancel and the LOGIN mechanism's steps.
import { describe, expect, it } from 'vitest';
import { decodeBase64Strict, LoginMechanism, parseClientResponse, parseInitialResponse, parsePlain } from '../../server/auth/sasl.js';

const plain = (text: string) => Buffer.from(text, 'utf8');
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('PLAIN (RFC 4616)', () => {
  it('parses authcid and password with an empty authzid', () => {
    expect(parsePlain(plain('\0tim@example.org\0tanstaaftanstaaf'))).toEqual({ authzid: '', authcid: 'tim@example.org', password: 'tanstaaftanstaaf' });
  });

  it('decodes the RFC 4616 §4 example from base64', () => {
    const data = decodeBase64Strict('AHRpbQB0YW5zdGFhZnRhbnN0YWFm');
    expect(data && parsePlain(data)).toEqual({ authzid: '', authcid: 'tim', password: 'tanstaaftanstaaf' });
  });

  it('accepts an authzid naming the same user, also in another case or IDN form', () => {
    expect(parsePlain(plain('anna@example.org\0anna@example.org\0pw-Secret-1'))?.authcid).toBe('anna@example.org');
    expect(parsePlain(plain('Anna@Example.ORG\0anna@example.org\0pw-Secret-1'))?.authzid).toBe('Anna@Example.ORG');
    expect(parsePlain(plain('anna@müller.de\0ANNA@xn--mller-kva.de\0pw'))).not.toBeNull();
  });

  it('refuses proxy authorization: an authzid naming someone else', () => {
    expect(parsePlain(plain('admin@example.org\0anna@example.org\0pw'))).toBeNull();
    expect(parsePlain(plain('root\0anna\0pw'))).toBeNull();
  });

  it('keeps UTF-8 passwords, spaces and all, byte for byte', () => {
    expect(parsePlain(plain('\0anna@example.org\0 Grüße, 日本 '))?.password).toBe(' Grüße, 日本 ');
  });

  it.each([
    ['no NUL at all', 'anna@example.org pw'],
    ['one NUL only', 'anna@example.org\0pw'],
    ['a NUL inside the password', '\0anna@example.org\0pw\0more'],
    ['empty authcid', '\0\0pw'],
    ['empty password', '\0anna@example.org\0'],
    ['everything empty', '\0\0'],
    ['empty input', '']
  ])('rejects %s', (_name, text) => {
    expect(parsePlain(plain(text))).toBeNull();
  });

  it('rejects invalid UTF-8 in any field', () => {
    const bad = Buffer.from([0xc3, 0x28]);
    expect(parsePlain(Buffer.concat([plain('\0anna@example.org\0'), bad]))).toBeNull();
    expect(parsePlain(Buffer.concat([plain('\0'), bad, plain('\0pw')]))).toBeNull();
    expect(parsePlain(Buffer.concat([bad, plain('\0anna\0pw')]))).toBeNull();
    expect(parsePlain(Buffer.concat([plain('\0anna\0'), Buffer.from([0xed, 0xa0, 0x80])]))).toBeNull(); // lone surrogate
  });
});

describe('strict base64 (RFC 4648)', () => {
  it('decodes canonical base64, padded or not needing padding', () => {
    expect(decodeBase64Strict('Zm9v')?.toString()).toBe('foo');
    expect(decodeBase64Strict('Zm8=')?.toString()).toBe('fo');
    expect(decodeBase64Strict('Zg==')?.toString()).toBe('f');
    expect(decodeBase64Strict('')?.length).toBe(0);
  });

  it.each([
    ['missing padding', 'Zm8'],
    ['missing double padding', 'Zg'],
    ['too much padding', 'Zg==='],
    ['padding in the middle', 'Zg==Zm9v'],
    ['whitespace', 'Zm9v Zm9v'],
    ['a trailing newline', 'Zm9v\n'],
    ['URL-safe alphabet', 'Pz8_'],
    ['characters outside the alphabet', 'Zm9v!'],
    ['non-zero pad bits (non-canonical)', 'Zh=='],
    ['a lone padding sign', '='],
    ['the cancel sign', '*']
  ])('rejects %s', (_name, text) => {
    expect(decodeBase64Strict(text)).toBeNull();
  });
});

describe('client responses', () => {
  it('treats * as cancel (RFC 9051 §6.2.2, RFC 4954 §4)', () => {
    expect(parseClientResponse('*')).toEqual({ kind: 'cancel' });
  });

  it('decodes base64 responses and refuses malformed ones', () => {
    const response = parseClientResponse(b64('\0anna@example.org\0pw'));
    expect(response.kind).toBe('data');
    expect(parseClientResponse('AGFubmE')).toEqual({ kind: 'invalid' });
    expect(parseClientResponse(' *')).toEqual({ kind: 'invalid' });
  });

  it('reads = as an empty initial response (RFC 4959 §3) and * there as invalid', () => {
    expect(parseInitialResponse('=')).toEqual({ kind: 'data', data: Buffer.alloc(0) });
    expect(parseInitialResponse('*')).toEqual({ kind: 'invalid' });
    const response = parseInitialResponse(b64('\0anna@example.org\0pw'));
    expect(response.kind === 'data' && parsePlain(response.data)?.authcid).toBe('anna@example.org');
  });
});

describe('LOGIN mechanism', () => {
  it('asks for the user name, then the password', () => {
    const login = new LoginMechanism();
    expect(login.start()).toEqual({ kind: 'challenge', challenge: b64('Username:') });
    expect(login.respond(b64('Anna@Example.org'))).toEqual({ kind: 'challenge', challenge: b64('Password:') });
    expect(login.respond(b64('Grüße-42'))).toEqual({ kind: 'done', username: 'Anna@Example.org', password: 'Grüße-42' });
    expect(login.respond(b64('again'))).toEqual({ kind: 'invalid' });
  });

  it('takes the user name from an initial response', () => {
    const login = new LoginMechanism();
    expect(login.start(b64('anna@example.org'))).toEqual({ kind: 'challenge', challenge: b64('Password:') });
    expect(login.respond(b64('pw'))).toEqual({ kind: 'done', username: 'anna@example.org', password: 'pw' });
  });

  it('is cancelled by * at either step', () => {
    expect(new LoginMechanism().respond('*')).toEqual({ kind: 'cancel' });
    const login = new LoginMechanism();
    login.start();
    login.respond(b64('anna@example.org'));
    expect(login.respond('*')).toEqual({ kind: 'cancel' });
  });

  it('fails on bad base64, empty fields, NUL and invalid UTF-8', () => {
    const steps = (answers: string[]) => {
      const login = new LoginMechanism();
      login.start();
      return answers.map((a) => login.respond(a).kind);
    };
    expect(steps(['YW5uYQ'])).toEqual(['invalid']);
    expect(steps([''])).toEqual(['invalid']);
    expect(steps(['=', b64('pw')])).toEqual(['invalid', 'invalid']);
    expect(steps([b64('anna'), b64('')])).toEqual(['challenge', 'invalid']);
    expect(steps([b64('anna'), b64('p\0w')])).toEqual(['challenge', 'invalid']);
    expect(steps([Buffer.from([0xff]).toString('base64')])).toEqual(['invalid']);
  });
});
