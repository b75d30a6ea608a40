// Threat: SMTP smuggling (SEC Consult, Dec 2023; CVE-2023-51764/51765/51766). A client ends the DATA of one
// message with a look-alike of <CRLF>.<CRLF> (bare LF or CR around the dot) and appends a second MAIL/RCPT/DATA.
// A receiver that takes the look-alike for the end of data accepts the second, forged message. RFC 5321 §2.3.8 and
// §4.1.1.4: only CRLF.CRLF ends DATA and CR/LF never appear alone, so the MX must take everything up to the real
// terminator as one message, refuse it whole (550 5.6.0) and carry on with the session.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPLIES, type ReplyName } from '../../server/smtp/replies.js';
import { listMessages } from '../../server/store/messages.js';
import { provision, startServer, tempDir, type TestServer } from '../helpers/server.js';
import { SmtpWire } from '../helpers/smtp-wire.js';
import { storedState } from '../helpers/stored-state.js';

const SENDER = 'alice@sender.test';
const RCPT = 'info@firma.de';
/** The one reply every smuggling attempt below must get, spelled out (RFC 3463 5.6.0: other media error). */
const BARE_LINE_ENDING = '550 5.6.0 Message contains a bare CR or LF; lines must end in CRLF (RFC 5321 section 2.3.8)';
const ACCEPTED = /^250 2\.0\.0 Ok: queued as [0-9A-F]{16}$/;

const reply = (name: ReplyName) => `${REPLIES[name].code} ${REPLIES[name].enhanced} ${REPLIES[name].text}`;

/** The forged transaction an attacker hides after the fake end of data (CRLF, as a lenient receiver would parse it). */
const SMUGGLED =
  'MAIL FROM:<ceo@firma.de>\r\n' +
  `RCPT TO:<${RCPT}>\r\n` +
  'DATA\r\n' +
  'From: ceo@firma.de\r\n' +
  `To: ${RCPT}\r\n` +
  'Subject: smuggled\r\n' +
  '\r\n' +
  'SMUGGLED-BODY wire the money\r\n';

const OUTER = `From: ${SENDER}\r\nTo: ${RCPT}\r\nSubject: outer\r\n\r\nouter body`;

interface SmugglingCase {
  name: string;
  /** everything between DATA's 354 and the real CRLF.CRLF */
  data: string;
  /** the fake end-of-data sequence inside data */
  fakeEnd: string;
}

/** A message that ends in the fake sequence, then the forged transaction. */
const around = (name: string, fakeEnd: string): SmugglingCase => ({ name, data: OUTER + fakeEnd + SMUGGLED, fakeEnd });

/** The same with every line of both messages ending in eol. */
const allLines = (name: string, eol: string): SmugglingCase => ({
  name,
  data:
    `From: ${SENDER}${eol}To: ${RCPT}${eol}Subject: outer${eol}${eol}outer body${eol}.${eol}` +
    `MAIL FROM:<ceo@firma.de>${eol}RCPT TO:<${RCPT}>${eol}DATA${eol}From: ceo@firma.de${eol}Subject: smuggled${eol}${eol}` +
    `SMUGGLED-BODY wire the money${eol}\r\n`, // the CRLF that begins the real CRLF.CRLF
  fakeEnd: `${eol}.${eol}`
});

const CASES: SmugglingCase[] = [
  around('<LF>.<CRLF>', '\n.\r\n'),
  around('<CRLF>.<LF>', '\r\n.\n'),
  around('<CR>.<CR>', '\r.\r'),
  around('<LF>.<LF>', '\n.\n'),
  around('<CR>.<CRLF>', '\r.\r\n'),
  around('<CRLF>.<CR>', '\r\n.\r'),
  allLines('every line ending in a bare LF', '\n'),
  allLines('every line ending in a bare CR', '\r')
];

/**
 * The attacker's segmentation: one byte per TCP segment from the fake end to 4 bytes past it. smtp-server holds the
 * last 4 bytes of each read back (to spot CRLF.CRLF), so the spool then sees every byte of the fake end as a chunk
 * of its own and has to carry "was the last byte a CR" across chunk boundaries.
 */
function segments(data: string, fakeEnd: string): string[] {
  const start = data.indexOf(fakeEnd);
  const end = start + fakeEnd.length + 4;
  return [data.slice(0, start), ...data.slice(start, end).split(''), data.slice(end)];
}


describe('SMTP smuggling: look-alike end-of-data sequences inside DATA', () => {
  let server: TestServer;
  let port: number;
  let accountId: number;
  /** raw messages of info@'s INBOX */
  const inbox = async () => {
    const rows = await listMessages(server.app.services.db, accountId, 'INBOX');
    return Promise.all(rows.map((m) => server.app.services.blobs.read(m.blob_id)));
  };

  beforeAll(async () => {
    server = await startServer();
    port = server.ports.smtp!;
    await provision(server, 'firma.de', ['info']);
    const account = await server.app.services.db.selectFrom('accounts').select('id').where('address', '=', RCPT).executeTakeFirstOrThrow();
    accountId = account.id;
  });
  afterAll(async () => server?.close());

  it('the reply table entry is the literal reply the tests expect', () => {
    expect(reply('bareLineEnding')).toBe(BARE_LINE_ENDING);
  });

  /** Opens a transaction to RCPT and leaves the session at 354. */
  async function openData(wire: SmtpWire): Promise<void> {
    expect((await wire.command(`MAIL FROM:<${SENDER}>`)).line).toBe('250 2.1.0 Accepted');
    expect((await wire.command(`RCPT TO:<${RCPT}>`)).line).toBe('250 2.1.5 Accepted');
    expect((await wire.command('DATA')).code).toBe(354);
  }

  /** A clean message on the same session: 250, stored exactly once, byte for byte. */
  async function cleanMessageStillWorks(wire: SmtpWire, tag: string): Promise<void> {
    const before = await inbox();
    const message = `From: ${SENDER}\r\nTo: ${RCPT}\r\nSubject: clean ${tag}\r\nMessage-ID: <${tag.replace(/\W/g, '')}@sender.test>\r\n\r\nclean body ${tag}\r\n`;
    await openData(wire);
    await wire.write(`${message}.\r\n`);
    expect((await wire.reply()).line).toMatch(ACCEPTED);
    const after = await inbox();
    expect(after.length).toBe(before.length + 1);
    const stored = after[after.length - 1];
    // the server only prepends trace fields (Received, Received-SPF, Authentication-Results)
    expect(stored.subarray(stored.length - message.length).toString('latin1')).toBe(message);
    expect(stored.toString('latin1')).not.toContain('SMUGGLED-BODY');
    expect(after.filter((m) => m.toString('latin1').includes(`clean body ${tag}\r\n`)).length).toBe(1);
  }

  for (const c of CASES) {
    for (const split of [false, true]) {
      it(`${c.name}${split ? ', fake end split across TCP segments' : ''}: 550 5.6.0, nothing stored, session goes on`, async () => {
        const before = await storedState(server);
        // a marker of this case's own, so one case's failure cannot make the others fail
        const marker = `SMUGGLED-BODY-${CASES.indexOf(c)}${split ? 's' : ''}`;
        const wire = await SmtpWire.session(port);
        try {
          await openData(wire);
          const data = c.data.replace('SMUGGLED-BODY', marker);
          if (split) await wire.writeSplit([...segments(data, c.fakeEnd), '.\r\n'], 5);
          else await wire.write(`${data}.\r\n`); // + the real end of data

          // one reply for the whole DATA: not 250 for an outer message followed by replies to smuggled commands
          const end = await wire.reply();
          expect(end.line).toBe(BARE_LINE_ENDING);
          expect((await wire.command('NOOP')).line).toBe('250 2.0.0 OK');
          expect(wire.unread).toBe('');
          expect(await storedState(server)).toEqual(before);
          expect((await inbox()).some((m) => m.includes(marker))).toBe(false);

          await cleanMessageStillWorks(wire, `${c.name}${split ? ' split' : ''}`);
          await wire.quit();
        } finally {
          wire.destroy();
        }
      });
    }
  }

  it('a dot-stuffed ".." first line sent as its own segment is content, not the end of data (smtp-server segmentation smuggling)', async () => {
    const before = (await inbox()).length;
    const wire = await SmtpWire.session(port);
    try {
      await openData(wire);
      // ".." unstuffs to "."; if the parser then took that "." + CRLF for the terminator, these would run as commands
      const commands = SMUGGLED.replace('SMUGGLED-BODY', 'STUFFED-BODY');
      await wire.writeSplit(['..', `\r\n${commands}`, '.\r\n']);
      expect((await wire.reply()).line).toMatch(ACCEPTED);
      expect((await wire.command('NOOP')).line).toBe('250 2.0.0 OK');
      const messages = await inbox();
      expect(messages.length).toBe(before + 1);
      // one message whose content is the would-be commands, unstuffed, not executed as a second transaction
      expect(messages[messages.length - 1].toString('latin1').endsWith(`\r\n.\r\n${commands}`)).toBe(true);
      await wire.quit();
    } finally {
      wire.destroy();
    }
  });

  const swaks = (() => {
    try {
      return execFileSync('sh', ['-c', 'command -v swaks'], { encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  })();

  // swaks is a real, independent SMTP client; --no-data-fixup sends the file as it is, --pipeline sends
  // MAIL/RCPT/DATA in one go as a bulk sender would.
  it.skipIf(!swaks)(`swaks --pipeline --no-data-fixup with a <LF>.<CRLF> payload is refused whole${swaks ? '' : ' (skipped: swaks is not installed)'}`, async () => {
    const dir = tempDir('postfach-swaks-');
    try {
      const run = (file: string) =>
        new Promise<{ code: number; out: string }>((resolve) => {
          execFile(
            swaks,
            ['--server', '127.0.0.1', '--port', String(port), '--helo', 'swaks.sender.test', '--from', SENDER, '--to', RCPT, '--pipeline', '--no-data-fixup', '--data', `@${file}`, '--timeout', '10'],
            { timeout: 20_000 },
            (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` })
          );
        });
      const before = await storedState(server);
      const smuggling = path.join(dir, 'smuggling.eml');
      // swaks appends CRLF after the data, which completes the real "\r\n.\r\n"
      const marker = 'SMUGGLED-BODY-swaks';
      fs.writeFileSync(smuggling, `${around('swaks', '\n.\r\n').data.replace('SMUGGLED-BODY', marker)}.`, 'latin1');
      const refused = await run(smuggling);
      expect(refused.out).toContain(`<** ${BARE_LINE_ENDING}`);
      expect(refused.out).not.toMatch(/<-\s+250 2\.0\.0 Ok: queued/);
      expect(refused.code).not.toBe(0);
      expect(await storedState(server)).toEqual(before);

      const clean = path.join(dir, 'clean.eml');
      fs.writeFileSync(clean, `From: ${SENDER}\r\nTo: ${RCPT}\r\nSubject: via swaks\r\n\r\nswaks clean body\r\n.`, 'latin1');
      const accepted = await run(clean);
      expect(accepted.out).toMatch(/<-\s+250 2\.0\.0 Ok: queued as [0-9A-F]{16}/);
      expect(accepted.code).toBe(0);
      const messages = await inbox();
      expect(messages.filter((m) => m.toString('latin1').endsWith('\r\n\r\nswaks clean body\r\n')).length).toBe(1);
      expect(messages.some((m) => m.includes(marker))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
