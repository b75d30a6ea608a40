// Threat: a POP3 client that sends what no honest client sends: endless lines, unknown commands, commands in the wrong
// state or with bad arguments, malformed SASL, commands injected ahead of the STLS handshake, more connections than
// allowed, and sessions left open. Each gets a clear -ERR (or a close) and the server keeps serving everyone else.
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { settingsByKey } from '../../server/config/schema.js';
import { addAccount } from '../../server/directory/accounts.js';
import { MAX_COMMAND, MAX_LINE } from '../../server/pop3/lines.js';
import { listMessages } from '../../server/store/messages.js';
import { accountId, storeMail, textMail } from '../helpers/mail-store.js';
import { Pop3Wire } from '../helpers/pop3-wire.js';
import { actor, PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
const open: Pop3Wire[] = [];
const USER = 'info@firma.de';

async function connect(): Promise<Pop3Wire> {
  const wire = await Pop3Wire.connect(server.ports.pop3!);
  open.push(wire);
  return wire;
}

const plain = (user: string, password: string, authzid = '') => Buffer.from(`${authzid}\0${user}\0${password}`).toString('base64');
/** The longest password the policy allows (256 characters, 281 octets in UTF-8): no PASS line with it fits 255 octets. */
const LONG_PASSWORD = 'Straße-42-'.repeat(25) + 'Straße';
const TOO_LONG = `-ERR Line too long (at most ${MAX_LINE} octets)`;
const COMMAND_TOO_LONG = `-ERR Line too long (at most ${MAX_COMMAND} octets)`;

beforeAll(async () => {
  server = await startServer({ overrides: { 'pop3.port': 0, 'pop3.idleTimeout': 1, 'pop3.maxConnectionsPerIp': 5 } });
  // one account per test: a maildrop lock is released only when the server has seen the previous connection close
  await provision(server, 'firma.de', ['info', 'befehle', 'pipeline', 'sasl', 'sasl2', 'lager', 'leerlauf', 'argumente', 'schwall', 'halb']);
  await addAccount(server.app.services.accounts, actor, { address: 'lang@firma.de', password: LONG_PASSWORD });
  for (const address of [USER, 'befehle@firma.de', 'pipeline@firma.de', 'sasl@firma.de', 'argumente@firma.de', 'schwall@firma.de', 'halb@firma.de']) {
    await storeMail(server, address, textMail('Eins'));
    await storeMail(server, address, textMail('Zwei'));
  }
});

afterAll(async () => {
  for (const wire of open) wire.close();
  await server?.close();
});

describe('line length', () => {
  it(`answers a line longer than ${MAX_LINE} octets with -ERR and keeps serving; a megabyte without LF gets the same answer`, async () => {
    const wire = await connect();
    expect(await wire.send(`USER ${'x'.repeat(MAX_LINE)}`)).toBe(TOO_LONG);
    for (let i = 0; i < 16; i++) wire.write('y'.repeat(64 * 1024));
    expect(await wire.send('')).toBe(TOO_LONG);
    // the longest line allowed still works: a PASS with a long password is refused for the password, not the length
    expect(await wire.send(`USER ${USER}`)).toBe('+OK Send PASS');
    expect(await wire.send(`PASS ${'p'.repeat(MAX_LINE - 7)}`)).toBe('-ERR [AUTH] Invalid credentials');
    await wire.login(USER, PASSWORD);
    expect(await wire.send('STAT')).toMatch(/^\+OK 2 \d+$/);
    wire.close();
  });

  it(`keeps command lines within ${MAX_COMMAND} octets with their CRLF (RFC 2449 §4); USER, PASS and AUTH lines and SASL responses may be longer`, async () => {
    const wire = await connect();
    // 253 octets and CRLF: the limit itself is a command; one more octet is not
    expect(await wire.send('X'.repeat(MAX_COMMAND - 2))).toBe('-ERR Unknown command');
    expect(await wire.send('X'.repeat(MAX_COMMAND - 1))).toBe(COMMAND_TOO_LONG);
    expect(await wire.send(`CAPA ${' '.repeat(300)}`)).toBe(COMMAND_TOO_LONG);
    expect((await wire.multi('CAPA')).status).toBe('+OK Capability list follows');
    // the longest password the policy allows, three ways: PASS (288 octets), AUTH PLAIN with it as initial response
    // (412 octets, longer than RFC 5034 §4 lets a client send) and as the response to "+ " (398 octets, no limit there)
    const pass = `PASS ${LONG_PASSWORD}`;
    expect(Buffer.byteLength(pass) + 2).toBeGreaterThan(MAX_COMMAND);
    expect(await wire.send('USER lang@firma.de')).toBe('+OK Send PASS');
    expect(await wire.send(pass)).toBe('+OK Logged in, 0 messages (0 octets)');
    expect(await wire.send('QUIT')).toBe('+OK Postfach POP3 signing off (0 messages left)');
    const initial = await connect();
    expect(await initial.send(`AUTH PLAIN ${plain('lang@firma.de', LONG_PASSWORD)}`)).toBe('+OK Logged in, 0 messages (0 octets)');
    expect(await initial.send('QUIT')).toMatch(/^\+OK/);
    const challenged = await connect();
    expect(await challenged.send('AUTH PLAIN')).toBe('+ ');
    expect(await challenged.send(plain('lang@firma.de', LONG_PASSWORD))).toBe('+OK Logged in, 0 messages (0 octets)');
    // logged in, the limit still holds for commands
    expect(await challenged.send(`LIST ${'0'.repeat(MAX_COMMAND)}1`)).toBe(COMMAND_TOO_LONG);
    expect(await challenged.send('QUIT')).toMatch(/^\+OK/);
  });
});

describe('commands', () => {
  it('refuses unknown commands and commands in the wrong state; ten bad ones in a row close the connection', async () => {
    const wire = await connect();
    expect(await wire.send('STAT')).toBe('-ERR STAT is not valid in this state');
    expect(await wire.send('RETR 1')).toBe('-ERR RETR is not valid in this state');
    expect(await wire.send('PASS geheim')).toBe('-ERR Send USER first');
    expect(await wire.send('XYZZY \x01\x02')).toBe('-ERR Unknown command');
    expect(await wire.send('')).toBe('-ERR Empty command');
    expect(await wire.send('APOP info@firma.de c4c9334bac560ecc979e58001b3e22fb')).toBe('-ERR Unknown command');
    for (let i = 0; i < 3; i++) expect(await wire.send('FOO')).toBe('-ERR Unknown command');
    expect(await wire.send('FOO')).toBe('-ERR Unknown command');
    expect(await wire.readLine()).toBe('-ERR Too many bad commands, closing');
    await wire.closedByServer();
  });

  it('checks arguments in the TRANSACTION state; USER, PASS and STLS are not valid there', async () => {
    const wire = await connect();
    await wire.login('befehle@firma.de', PASSWORD);
    expect(await wire.send('RETR')).toBe('-ERR RETR takes one message number');
    expect(await wire.send('RETR eins')).toBe('-ERR Expected a message number');
    expect(await wire.send('RETR 0')).toBe('-ERR No message 0');
    expect(await wire.send('RETR 99999999999')).toBe('-ERR No message 99999999999');
    expect(await wire.send('LIST 1 2')).toBe('-ERR LIST takes at most one message number');
    expect(await wire.send('DELE -1')).toBe('-ERR Expected a message number');
    expect(await wire.send('TOP 1 x')).toBe('-ERR The number of lines must be a non-negative integer');
    expect(await wire.send('STAT 1')).toBe('-ERR STAT takes no arguments');
    expect(await wire.send(`USER ${USER}`)).toBe('-ERR USER is not valid in this state');
    expect(await wire.send('STLS')).toBe('-ERR STLS is not valid in this state');
    expect(await wire.send('AUTH PLAIN')).toBe('-ERR AUTH is not valid in this state');
    // eleven bad commands in a row: a logged-in session is not cut off (the limit guards the port before login)
    expect(await wire.send('QUIT now')).toBe('-ERR QUIT takes no arguments');
    expect(await wire.send('NOOP')).toBe('+OK Still here');
    expect(await wire.send('QUIT')).toBe('+OK Postfach POP3 signing off (2 messages left)');
    await wire.closedByServer();
  });

  it('answers pipelined commands (RFC 2449 PIPELINING) in order, a RETR among them intact', async () => {
    const wire = await connect();
    const size = Buffer.byteLength(textMail('Eins'));
    wire.write(`USER pipeline@firma.de\r\nPASS ${PASSWORD}\r\nSTAT\r\nLIST 1\r\nRETR 1\r\nBOGUS\r\nDELE 2\r\nRSET\r\nNOOP\r\nQUIT\r\n`);
    expect(await wire.readLine()).toBe('+OK Send PASS');
    expect(await wire.readLine()).toMatch(/^\+OK Logged in, 2 messages/);
    expect(await wire.readLine()).toMatch(/^\+OK 2 \d+$/);
    expect(await wire.readLine()).toBe(`+OK 1 ${size}`);
    const retr = await wire.readMulti();
    expect(retr.status).toBe(`+OK ${size} octets`);
    expect(retr.lines.join('\r\n') + '\r\n').toBe(textMail('Eins'));
    expect(await wire.readLine()).toBe('-ERR Unknown command');
    expect(await wire.readLine()).toBe('+OK Message 2 deleted');
    expect(await wire.readLine()).toBe('+OK Maildrop has 2 messages (' + (size + Buffer.byteLength(textMail('Zwei'))) + ' octets)');
    expect(await wire.readLine()).toBe('+OK Still here');
    expect(await wire.readLine()).toBe('+OK Postfach POP3 signing off (2 messages left)');
    await wire.closedByServer();
  });

  it('answers a burst of 300 commands in one write in order, an AUTH PLAIN exchange among them, past the read-ahead limit', async () => {
    const wire = await connect();
    const size = Buffer.byteLength(textMail('Eins'));
    const rounds = 70;
    const round = ['NOOP', 'LIST 1', 'BOGUS', 'TOP 1 0'];
    wire.write(['AUTH PLAIN', plain('schwall@firma.de', PASSWORD), 'STAT', ...Array.from({ length: rounds }, () => round).flat(), 'UIDL', 'CAPA', 'QUIT', ''].join('\r\n'));
    expect(await wire.readLine()).toBe('+ ');
    expect(await wire.readLine()).toMatch(/^\+OK Logged in, 2 messages/);
    expect(await wire.readLine()).toMatch(/^\+OK 2 \d+$/);
    const header = textMail('Eins').split('\r\n\r\n')[0].split('\r\n');
    for (let i = 0; i < rounds; i++) {
      expect(await wire.readLine()).toBe('+OK Still here');
      expect(await wire.readLine()).toBe(`+OK 1 ${size}`);
      expect(await wire.readLine()).toBe('-ERR Unknown command');
      expect(await wire.readMulti()).toEqual({ status: '+OK Top of message follows', lines: [...header, ''] });
    }
    expect((await wire.readMulti()).lines).toHaveLength(2);
    expect((await wire.readMulti()).lines).toContain('PIPELINING');
    expect(await wire.readLine()).toBe('+OK Postfach POP3 signing off (2 messages left)');
    await wire.closedByServer();
  });
});

describe('half-closed connections', () => {
  /** Sends `text`, shuts down the sending side (TCP FIN) and returns every line the server wrote until it closed. */
  async function sendAndHalfClose(text: string): Promise<string[]> {
    const socket = net.connect(server.ports.pop3!, '127.0.0.1');
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.end(text);
    await new Promise((resolve) => socket.once('close', resolve));
    return received.split('\r\n').slice(0, -1);
  }

  it('answers every command sent before the client shut down its side, QUIT included; without QUIT nothing is deleted', async () => {
    const size = Buffer.byteLength(textMail('Zwei'));
    const withoutQuit = await sendAndHalfClose(`USER halb@firma.de\r\nPASS ${PASSWORD}\r\nDELE 1\r\nLIST 2\r\n`);
    expect(withoutQuit).toEqual(['+OK Postfach POP3 ready', '+OK Send PASS', expect.stringMatching(/^\+OK Logged in, 2 messages/), '+OK Message 1 deleted', `+OK 2 ${size}`]);
    const inbox = async () => (await listMessages(server.app.services.db, await accountId(server, 'halb@firma.de'), 'INBOX')).map((m) => m.subject);
    expect(await inbox()).toEqual(['Eins', 'Zwei']);
    const withQuit = await sendAndHalfClose(`USER halb@firma.de\r\nPASS ${PASSWORD}\r\nDELE 1\r\nQUIT\r\n`);
    expect(withQuit.slice(3)).toEqual(['+OK Message 1 deleted', '+OK Postfach POP3 signing off (1 messages left)']);
    expect(await inbox()).toEqual(['Zwei']);
  });
});

describe('message numbers and arguments', () => {
  it('reads message numbers as RFC 1939 numbers (1*DIGIT: leading zeros, any length); a deleted or missing one gets -ERR; TOP takes any line count', async () => {
    const wire = await connect();
    await wire.login('argumente@firma.de', PASSWORD);
    const sizes = ['Eins', 'Zwei'].map((s) => Buffer.byteLength(textMail(s)));
    const uidl = (await wire.multi('UIDL')).lines;
    expect(uidl).toHaveLength(2);
    expect(await wire.send('LIST 001')).toBe(`+OK 1 ${sizes[0]}`);
    expect(await wire.send('UIDL 0002')).toBe(`+OK ${uidl[1]}`);
    expect(await wire.send('LIST 0')).toBe('-ERR No message 0');
    expect(await wire.send('LIST 3')).toBe('-ERR No message 3');
    expect(await wire.send('UIDL 99999999999999999999')).toBe('-ERR No message 99999999999999999999');
    expect(await wire.send('DELE 4294967297')).toBe('-ERR No message 4294967297');
    expect((await wire.multi('RETR 00000000001')).status).toBe(`+OK ${sizes[0]} octets`);
    // fetchmail reads with "TOP n 99999999" to leave a message unseen; a count past 32 bits means the whole message too
    const whole = await wire.multi('TOP 1 99999999999');
    expect(whole.status).toBe('+OK Top of message follows');
    expect(whole.lines.join('\r\n') + '\r\n').toBe(textMail('Eins'));
    const header = await wire.multi('TOP 01 000');
    expect(header.lines.join('\r\n') + '\r\n').toBe(textMail('Eins').replace(/(?<=\r\n\r\n)[^]*$/, ''));
    expect(await wire.send('DELE 2')).toBe('+OK Message 2 deleted');
    for (const command of ['LIST 2', 'UIDL 2', 'RETR 2', 'TOP 2 0', 'DELE 02']) expect(await wire.send(command)).toBe('-ERR Message 2 is deleted');
    expect(await wire.send('STAT')).toBe(`+OK 1 ${sizes[0]}`);
    expect(await wire.multi('LIST')).toEqual({ status: `+OK 1 messages (${sizes[0]} octets)`, lines: [`1 ${sizes[0]}`] });
    expect((await wire.multi('UIDL')).lines).toEqual([uidl[0]]);
    const malformed: Array<[string, string]> = [
      ['LIST -1', '-ERR Expected a message number'],
      ['LIST +1', '-ERR Expected a message number'],
      ['UIDL 1.0', '-ERR Expected a message number'],
      ['RETR 0x1', '-ERR Expected a message number'],
      ['LIST 1 2', '-ERR LIST takes at most one message number'],
      ['UIDL  1', '-ERR UIDL takes at most one message number'],
      ['RETR 1 2', '-ERR RETR takes one message number'],
      ['DELE', '-ERR DELE takes one message number'],
      ['TOP 1', '-ERR TOP takes a message number and a number of lines'],
      ['TOP 1 -1', '-ERR The number of lines must be a non-negative integer'],
      ['TOP 1 1 1', '-ERR TOP takes a message number and a number of lines'],
      ['RSET all', '-ERR RSET takes no arguments'],
      ['CAPA 1', '-ERR CAPA takes no arguments']
    ];
    for (const [command, reply] of malformed) expect(await wire.send(command), command).toBe(reply);
    expect(await wire.send('QUIT')).toBe('+OK Postfach POP3 signing off (1 messages left)');
    await wire.closedByServer();
    const stored = await listMessages(server.app.services.db, await accountId(server, 'argumente@firma.de'), 'INBOX');
    expect(stored.map((m) => m.subject)).toEqual(['Eins']);
  });

  it('QUIT in the AUTHORIZATION state signs off and closes; with an argument it is refused; STLS takes no argument either', async () => {
    const wire = await connect();
    expect(await wire.send('STLS now')).toBe('-ERR STLS takes no arguments');
    expect(await wire.send('QUIT please')).toBe('-ERR QUIT takes no arguments');
    expect(await wire.send(`USER ${USER}`)).toBe('+OK Send PASS');
    expect(await wire.send('QUIT')).toBe('+OK Postfach POP3 signing off');
    await wire.closedByServer();
  });
});

describe('SASL', () => {
  it('lists mechanisms for a bare AUTH and refuses unknown mechanisms, bad base64, a cancel and another authzid', async () => {
    const wire = await connect();
    expect(await wire.multi('AUTH')).toEqual({ status: '+OK Supported mechanisms follow', lines: ['PLAIN', 'LOGIN'] });
    expect(await wire.send('AUTH CRAM-MD5')).toBe('-ERR Unsupported mechanism; use PLAIN or LOGIN');
    expect(await wire.send('AUTH PLAIN !!!')).toBe('-ERR Invalid base64 in the SASL response');
    expect(await wire.send('AUTH PLAIN')).toBe('+ ');
    expect(await wire.send('*')).toBe('-ERR Authentication cancelled');
    expect(await wire.send(`AUTH PLAIN ${plain('sasl@firma.de', PASSWORD, 'lager@firma.de')}`)).toBe('-ERR [AUTH] Invalid credentials');
    expect(await wire.send('AUTH PLAIN a b c')).toBe('-ERR AUTH takes a mechanism and an optional initial response');
    expect(await wire.send('AUTH LOGIN')).toBe(`+ ${Buffer.from('Username:').toString('base64')}`);
    expect(await wire.send(Buffer.from('sasl@firma.de').toString('base64'))).toBe(`+ ${Buffer.from('Password:').toString('base64')}`);
    expect(await wire.send(Buffer.from(PASSWORD).toString('base64'))).toMatch(/^\+OK Logged in, 2 messages/);
    wire.close();
  });

  it('answers a SASL response past the line limit "Line too long", not [AUTH]: it was never checked as credentials', async () => {
    const wire = await connect();
    expect(await wire.send('AUTH PLAIN')).toBe('+ ');
    expect(await wire.send('A'.repeat(MAX_LINE))).toBe(TOO_LONG);
    expect(await wire.send('AUTH LOGIN')).toMatch(/^\+ /);
    expect(await wire.send('A'.repeat(MAX_LINE))).toBe(TOO_LONG);
    // the exchange is over: the next line is a command again
    expect(await wire.send('NOOP')).toBe('-ERR NOOP is not valid in this state');
    expect(await wire.send(`AUTH PLAIN ${plain('sasl@firma.de', PASSWORD)}`)).toMatch(/^\+OK Logged in, 2 messages/);
    wire.close();
  });

  it('takes AUTH PLAIN with an initial response and after an empty challenge', async () => {
    const first = await connect();
    expect(await first.send(`AUTH PLAIN ${plain('Lager@Firma.DE', PASSWORD)}`)).toBe('+OK Logged in, 0 messages (0 octets)');
    const second = await connect();
    expect(await second.send('AUTH PLAIN')).toBe('+ ');
    expect(await second.send(plain('sasl2@firma.de', PASSWORD))).toBe('+OK Logged in, 0 messages (0 octets)');
    first.close();
    second.close();
  });
});

describe('STLS', () => {
  it('discards commands pipelined behind STLS instead of running them inside TLS (CVE-2011-0411)', async () => {
    const socket = net.connect(server.ports.pop3!, '127.0.0.1');
    const lines: string[] = [];
    let buffer = '';
    socket.setEncoding('latin1');
    const onData = (chunk: string) => {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 2);
      }
    };
    socket.on('data', onData);
    const waitLines = async (n: number) => {
      for (let i = 0; lines.length < n && i < 200; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    };
    await waitLines(1);
    socket.write(`STLS\r\nUSER ${USER}\r\n`);
    await waitLines(2);
    expect(lines).toEqual(['+OK Postfach POP3 ready', '+OK Begin TLS negotiation']);
    socket.off('data', onData);
    const secure = tls.connect({ socket, rejectUnauthorized: false });
    await new Promise((resolve) => secure.once('secureConnect', resolve));
    const inside: string[] = [];
    secure.setEncoding('latin1');
    secure.on('data', (chunk: string) => inside.push(...chunk.split('\r\n').filter(Boolean)));
    secure.write('PASS geheim\r\n');
    for (let i = 0; !inside.length && i < 200; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    // had the injected USER run, PASS would be checked (and fail as [AUTH]); it was discarded, so PASS has no USER
    expect(inside).toEqual(['-ERR Send USER first']);
    secure.destroy();
  });
});

describe('limits', () => {
  it('refuses connections past pop3.maxConnectionsPerIp with -ERR [SYS/TEMP] and closes them', async () => {
    const held: Pop3Wire[] = [];
    for (const wire of open.splice(0)) wire.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (let i = 0; i < 5; i++) held.push(await connect());
    const socket = net.connect(server.ports.pop3!, '127.0.0.1');
    const reply = await new Promise<string>((resolve) => {
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (chunk: string) => (text += chunk));
      socket.on('close', () => resolve(text));
    });
    expect(reply).toBe('-ERR [SYS/TEMP] Too many connections, try again later\r\n');
    held[0].close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const again = await connect();
    expect(again.greeting).toBe('+OK Postfach POP3 ready');
    for (const wire of [...held, again]) wire.close();
  });

  it('closes a silent session after pop3.idleTimeout without a response and without applying its DELE marks', async () => {
    // RFC 1939 §3: at least 10 minutes unless the operator configures less (this server: 1 s)
    expect(settingsByKey.get('pop3.idleTimeout')?.default).toBe(600);
    await storeMail(server, 'leerlauf@firma.de', textMail('Bleibt'));
    const wire = await connect();
    await wire.login('leerlauf@firma.de', PASSWORD);
    expect(await wire.send('DELE 1')).toBe('+OK Message 1 deleted');
    const started = Date.now();
    await wire.closedByServer(5000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const messages = await listMessages(server.app.services.db, await accountId(server, 'leerlauf@firma.de'), 'INBOX');
    expect(messages.map((m) => m.subject)).toEqual(['Bleibt']);
  });
});
