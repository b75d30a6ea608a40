// SIGTERM to `postfach serve` (a child process, as in production): listeners stop accepting; an idle SMTP session gets
// 421 at once; a message in the middle of DATA is finished, stored and answered 250, then 421; a transaction that does
// not finish within shutdownTimeout gets 421; an IMAP session in IDLE gets BYE; a delivery stuck at a remote MX is
// recorded as deferred (not left leased); the process exits 0 and the mail is in the database afterwards.
import crypto from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../server/db/connect.js';
import { addAccount } from '../../server/directory/accounts.js';
import { addDomain } from '../../server/directory/domains.js';
import { addForward } from '../../server/directory/routing.js';
import { listMessages } from '../../server/store/messages.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { ImapWire } from '../helpers/imap-wire.js';
import { routeDomainTo } from '../helpers/remote-mx.js';
import { PASSWORD, actor, tempDir } from '../helpers/server.js';
import { serveEnv, startServe, type ServeProcess } from '../helpers/serve-process.js';
import { SmtpWire, eventually } from '../helpers/smtp-wire.js';

/** A remote MX that takes the whole message and then never answers the final dot: a delivery stays in flight. */
function stallingMx(): Promise<{ server: net.Server; port: number; gotMessage: () => boolean }> {
  let got = false;
  const server = net.createServer((socket) => {
    let data = false;
    let buffer = '';
    socket.on('error', () => undefined);
    socket.write('220 stall.remote.test ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        if (data) {
          if (line === '.') got = true; // …and no reply
          continue;
        }
        if (/^EHLO/i.test(line)) socket.write('250-stall.remote.test\r\n250 8BITMIME\r\n');
        else if (/^DATA/i.test(line)) {
          data = true;
          socket.write('354 go ahead\r\n');
        } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as net.AddressInfo).port, gotMessage: () => got })));
}

/** POSTFACH_SHUTDOWN_TIMEOUT of the server under test, in seconds. */
const SHUTDOWN_TIMEOUT = 2;
/**
 * How long past the shutdown timeout the test's supervisor waits before SIGKILL, as `docker stop -t` or systemd's
 * TimeoutStopSec do: a server that outlives the timeout it was configured with (by far) is killed, and fails.
 */
const KILL_MARGIN_MS = 13_000;

let dns: TestDnsServer;
let dataDir: string;
let stall: Awaited<ReturnType<typeof stallingMx>>;
let serve: ServeProcess;

beforeAll(async () => {
  dns = await startDnsServer({});
  routeDomainTo(dns, 'remote.test');
  stall = await stallingMx();
  dataDir = tempDir('postfach-shutdown-');
  const { db, close } = await openDatabase(dataDir);
  await addDomain(db, actor, 'firma.de');
  await addAccount({ db, policy: { minLength: 10 }, defaultQuota: 0 }, actor, { address: 'info@firma.de', password: PASSWORD });
  await addForward(db, actor, 'weiter@firma.de', ['ziel@remote.test'], false);
  await close();
  serve = await startServe(serveEnv(dataDir, dns.address, { POSTFACH_SHUTDOWN_TIMEOUT: String(SHUTDOWN_TIMEOUT), POSTFACH_QUEUE_REMOTE_PORT: String(stall.port) }));
});

afterAll(async () => {
  await serve?.stop('SIGKILL');
  stall?.server.close();
  await dns?.close();
});

describe('SIGTERM', () => {
  it('finishes the transaction in DATA, ends the others with 421 and IMAP with BYE, records the stuck delivery, and exits 0', async () => {
    const subject = `shutdown-${crypto.randomUUID()}`;
    // a forward to the stalling remote MX: its delivery attempt is in flight when the signal comes
    const forward = await SmtpWire.session(serve.ports.smtp);
    for (const line of ['MAIL FROM:<a@sender.test>', 'RCPT TO:<weiter@firma.de>', 'DATA']) await forward.command(line);
    expect((await forward.command(`Subject: forward\r\n\r\nweiter\r\n.`)).code).toBe(250);
    await forward.quit();
    expect(await eventually(stall.gotMessage, 10_000, 20)).toBe(true);

    const idle = await SmtpWire.session(serve.ports.smtp);
    const inData = await SmtpWire.session(serve.ports.smtp);
    for (const line of ['MAIL FROM:<a@sender.test>', 'RCPT TO:<info@firma.de>']) expect((await inData.command(line)).code).toBe(250);
    expect((await inData.command('DATA')).code).toBe(354);
    await inData.write(`From: a@sender.test\r\nTo: info@firma.de\r\nSubject: ${subject}\r\n\r\nfirst half of the body\r\n`);
    const stalled = await SmtpWire.session(serve.ports.smtp);
    for (const line of ['MAIL FROM:<a@sender.test>', 'RCPT TO:<info@firma.de>']) expect((await stalled.command(line)).code).toBe(250);
    const imap = await ImapWire.connect(serve.ports.imap);
    expect((await imap.command('a', `LOGIN info@firma.de ${PASSWORD}`)).tagged).toMatch(/^a OK/);
    expect((await imap.command('b', 'SELECT INBOX')).tagged).toMatch(/^b OK/);
    imap.write('c IDLE\r\n');
    expect(await imap.readLine()).toMatch(/^\+ /);

    const stopped = serve.stop('SIGTERM', SHUTDOWN_TIMEOUT * 1000 + KILL_MARGIN_MS);

    // idle sessions end now
    expect((await idle.reply()).line).toBe('421 4.3.2 Service shutting down, try again later');
    await idle.waitClosed();
    expect(await imap.readLine()).toBe('* BYE Server shutting down');
    await imap.closedByServer();
    // nothing new is accepted
    expect(await eventually(() => new Promise<boolean>((resolve) => net.connect(serve.ports.smtp, '127.0.0.1').once('error', () => resolve(true)).once('connect', function (this: net.Socket) { this.destroy(); resolve(false); })), 3000, 50)).toBe(true);
    // the message in DATA is finished: stored and acknowledged, then the session ends
    await inData.write('second half\r\n.\r\n');
    expect((await inData.reply()).line).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-F]+$/);
    expect((await inData.reply()).line).toBe('421 4.3.2 Service shutting down, try again later');
    await inData.waitClosed();
    // the transaction that never sends DATA gets 421 once shutdownTimeout has passed
    expect((await stalled.reply(SHUTDOWN_TIMEOUT * 1000 + 3000)).line).toBe('421 4.3.2 Service shutting down, try again later');
    await stalled.waitClosed();

    // it exits by itself, with 0, before the supervisor's SIGKILL: the stuck delivery did not hold it up
    expect(await stopped).toMatchObject({ code: 0, signal: null });

    const { db, close } = await openDatabase(dataDir);
    try {
      const account = await db.selectFrom('accounts').select('id').where('address', '=', 'info@firma.de').executeTakeFirstOrThrow();
      const inbox = await listMessages(db, account.id, 'INBOX');
      expect(inbox.map((m) => JSON.parse(m.envelope).subject)).toContain(subject);
      // the attempt cut short by the stop is on record as tried once, not leased and not lost
      const queued = await db.selectFrom('queue').selectAll().execute();
      expect(queued).toHaveLength(1);
      expect(queued[0]).toMatchObject({ attempts: 1, leased_until: null });
      expect(queued[0].last_error).toBeTruthy();
      const rcpt = await db.selectFrom('queue_recipients').selectAll().execute();
      expect(rcpt.map((r) => [r.recipient, r.status])).toEqual([['ziel@remote.test', 'pending']]);
    } finally {
      await close();
    }
  });
});
