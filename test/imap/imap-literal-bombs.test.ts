// Threat: literal bombs against a real session: declared sizes far beyond APPENDLIMIT (synchronizing: refused without
// a continuation, the session goes on; non-synchronizing: its bytes follow regardless, so BYE and close), and literals
// before login, where an unauthenticated client must not make the server hold megabytes (LOGIN takes an address and a
// password; nothing before login needs more than a few KiB).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapWire } from '../helpers/imap-wire.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';
import { PREAUTH_LITERAL_LIMIT } from '../../server/imap/session.js';
import { mailSnapshot } from '../helpers/mail-store.js';

const APPEND_LIMIT = 1024 * 1024;

let server: TestServer;
let port: number;
const open: ImapWire[] = [];

beforeAll(async () => {
  server = await startServer({ overrides: { 'imap.port': 0, 'imap.appendLimit': APPEND_LIMIT } });
  port = server.ports.imap!;
  await provision(server, 'firma.de', ['info', 'buchhaltung']);
});

afterAll(async () => {
  for (const wire of open) wire.close();
  await server?.close();
});

async function connect(): Promise<ImapWire> {
  const wire = await ImapWire.connect(port);
  open.push(wire);
  return wire;
}

async function login(): Promise<ImapWire> {
  const wire = await connect();
  expect((await wire.command('L', `LOGIN info@firma.de ${PASSWORD}`)).tagged).toMatch(/^L OK /);
  return wire;
}

/** Resolves with what the server sent within ms (nothing is an empty string). */
async function silence(wire: ImapWire, ms: number): Promise<string> {
  try {
    return await wire.readLine(ms);
  } catch {
    return '';
  }
}

describe('after login', () => {
  it('APPEND {999999999}: tagged BAD [TOOBIG] without a continuation, the session continues', async () => {
    const wire = await login();
    const before = await mailSnapshot(server, 'info@firma.de');
    // the tagged BAD is the only answer: no "+ Ready", after which the server would wait for 999999999 octets
    const reply = await wire.command('a1', 'APPEND INBOX {999999999}');
    expect(reply.lines).toEqual(['a1 BAD [TOOBIG] Literal too large']);
    expect((await wire.command('a2', 'NOOP')).lines).toEqual(['a2 OK NOOP completed']);
    expect(await mailSnapshot(server, 'info@firma.de')).toEqual(before);
  });

  it('a declared size with more digits than any number is refused the same way', async () => {
    const wire = await login();
    expect((await wire.command('a1', `APPEND INBOX {${'9'.repeat(5000)}}`)).lines).toEqual(['a1 BAD [TOOBIG] Literal too large']);
    expect((await wire.command('a2', 'NOOP')).tagged).toBe('a2 OK NOOP completed');
  });

  it('one octet over APPENDLIMIT is refused, a literal of exactly APPENDLIMIT gets its continuation', async () => {
    const wire = await login();
    expect((await wire.command('a1', `APPEND INBOX {${APPEND_LIMIT + 1}}`)).lines).toEqual(['a1 BAD [TOOBIG] Literal too large']);
    wire.write(`a2 APPEND INBOX {${APPEND_LIMIT}}\r\n`);
    expect(await wire.readLine()).toBe('+ Ready for literal data');
    const body = 'x'.repeat(APPEND_LIMIT - 40);
    const message = `Subject: gross\r\n\r\n${body}`.padEnd(APPEND_LIMIT, 'y');
    wire.write(`${message}\r\n`);
    expect((await wire.readTagged('a2')).tagged).toMatch(/^a2 OK \[APPENDUID \d+ \d+\] APPEND completed$/);
  });

  it('APPEND {100000000+}: the bytes follow whatever we answer, so BAD, BYE and the connection closes', async () => {
    const wire = await login();
    const before = await mailSnapshot(server, 'info@firma.de');
    wire.write('a1 APPEND INBOX {100000000+}\r\n');
    // the client keeps sending; the server answers and closes without waiting for the 100 MB (it would wait for ever)
    wire.write(Buffer.alloc(256 * 1024, 0x41));
    expect(await wire.readLine()).toBe('a1 BAD [TOOBIG] Literal too large');
    expect(await wire.readLine()).toBe('* BYE [TOOBIG] Literal too large');
    await wire.closedByServer(3000);
    expect(await mailSnapshot(server, 'info@firma.de')).toEqual(before);
    // other sessions are unaffected
    const other = await login();
    expect((await other.command('b1', 'NOOP')).tagged).toBe('b1 OK NOOP completed');
  });

  it('after login a literal far over the pre-login limit is accepted where APPENDLIMIT allows it', async () => {
    const wire = await login();
    wire.write(`a1 APPEND INBOX {${PREAUTH_LITERAL_LIMIT * 4}}\r\n`);
    expect(await wire.readLine()).toBe('+ Ready for literal data');
    wire.write(`Subject: x\r\n\r\n`.padEnd(PREAUTH_LITERAL_LIMIT * 4, 'z') + '\r\n');
    expect((await wire.readTagged('a1')).tagged).toMatch(/^a1 OK \[APPENDUID /);
  });
});

describe('before login', () => {
  it('LOGIN {70000}, over the line limit: BAD [TOOBIG] without a continuation; the session continues and can log in', async () => {
    const wire = await connect();
    expect((await wire.command('a1', 'LOGIN {70000}')).lines).toEqual(['a1 BAD [TOOBIG] Literal too large']);
    expect(await silence(wire, 200)).toBe('');
    expect((await wire.command('a2', `LOGIN info@firma.de ${PASSWORD}`)).tagged).toMatch(/^a2 OK /);
  });

  it('a literal of a few KiB in LOGIN is refused before login although APPENDLIMIT is 1 MiB', async () => {
    const wire = await connect();
    expect((await wire.command('a1', `LOGIN {${PREAUTH_LITERAL_LIMIT + 1}}`)).lines).toEqual(['a1 BAD [TOOBIG] Literal too large']);
    // APPEND is not valid before login; its literal must not be read first either
    expect((await wire.command('a2', `APPEND INBOX {${APPEND_LIMIT}}`)).lines).toEqual(['a2 BAD [TOOBIG] Literal too large']);
    expect((await wire.command('a3', 'NOOP')).lines).toEqual(['a3 OK NOOP completed']);
  });

  it('a literal at the pre-login limit is read; a user name that long simply fails', async () => {
    const wire = await connect();
    wire.write(`a1 LOGIN {${PREAUTH_LITERAL_LIMIT}}\r\n`);
    expect(await wire.readLine()).toBe('+ Ready for literal data');
    wire.write(`${'u'.repeat(PREAUTH_LITERAL_LIMIT)} {${PASSWORD.length}+}\r\n${PASSWORD}\r\n`);
    expect((await wire.readTagged('a1')).lines).toEqual(['a1 NO [AUTHENTICATIONFAILED] Invalid credentials']);
  });

  it('LOGIN {70000+}: BAD, BYE and close, nothing of it is read as commands', async () => {
    const wire = await connect();
    wire.write('a1 LOGIN {70000+}\r\n');
    wire.write(`${'a2 LOGOUT\r\n'.repeat(7000)}`);
    expect(await wire.readLine()).toBe('a1 BAD [TOOBIG] Literal too large');
    expect(await wire.readLine()).toBe('* BYE [TOOBIG] Literal too large');
    await wire.closedByServer(3000);
  });

  it('a password literal with LITERAL+ under the limit works as in any client', async () => {
    const wire = await connect();
    wire.write(`a1 LOGIN "info@firma.de" {${PASSWORD.length}+}\r\n${PASSWORD}\r\n`);
    expect((await wire.readTagged('a1')).tagged).toMatch(/^a1 OK \[CAPABILITY /);
  });

  it('forty unauthenticated connections declaring large literals cost the server next to nothing', async () => {
    const wires = await Promise.all(Array.from({ length: 40 }, () => connect()));
    const before = process.memoryUsage().rss;
    for (const wire of wires) wire.write(`a1 LOGIN {${APPEND_LIMIT}}\r\n${'x'.repeat(60 * 1024)}`);
    const replies = await Promise.all(wires.map((wire) => wire.readLine()));
    expect(new Set(replies)).toEqual(new Set(['a1 BAD [TOOBIG] Literal too large']));
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
    for (const wire of wires) wire.close();
  });
});
