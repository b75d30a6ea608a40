// POP3 benchmark: one session over one connection on a maildrop of N messages: login (listing with sizes), UIDL, then
// every message by pipelined RETR (throughput), then DELE of all and QUIT (the UPDATE state). Server in its own process.
import fs from 'node:fs';
import net from 'node:net';
import { startChildServer } from '../test/helpers/child-server.js';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { Pop3Wire } from '../test/helpers/pop3-wire.js';
import { PASSWORD, tempDir } from '../test/helpers/server.js';
import { populate } from './imap.js';

export interface Pop3BenchOptions {
  messages: number;
  sizeKb: number;
}

/** A text message of about `kb` KB with a line starting with "." now and then (stuffed on the wire). */
function message(i: number, kb: number): Buffer {
  const lines = [`From: kunde${i}@example.com`, 'To: info@firma.de', `Subject: Nachricht ${i}`, `Message-ID: <p${i}@example.com>`, 'Date: Tue, 01 Dec 2026 10:00:00 +0000', ''];
  for (let n = 0; lines.join('\r\n').length < kb * 1024; n++) lines.push(n % 50 === 0 ? `.Zeile ${n} mit Punkt` : `Zeile ${n} der Nachricht ${i} ${'abcdefghij'.repeat(6)}`);
  return Buffer.from(lines.join('\r\n') + '\r\n');
}

/** Sends `count` pipelined RETRs and reads until as many responses ended; returns the bytes received. */
function retrieveAll(port: number, count: number): Promise<{ bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let stage = 0;
    let bytes = 0;
    let ended = 0;
    let tail = Buffer.alloc(0);
    let started = 0n;
    const END = Buffer.from('\r\n.\r\n');
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      if (stage < 3) {
        // greeting, +OK for USER, +OK for PASS: then the RETRs go out in one write
        const text = chunk.toString('latin1');
        stage += text.split('\r\n').length - 1;
        if (stage === 1) socket.write(`USER info@firma.de\r\nPASS ${PASSWORD}\r\n`);
        if (stage >= 3) {
          started = process.hrtime.bigint();
          socket.write(Array.from({ length: count }, (_, i) => `RETR ${i + 1}\r\n`).join(''));
        }
        return;
      }
      bytes += chunk.length;
      const window = Buffer.concat([tail, chunk]);
      for (let at = window.indexOf(END); at >= 0; at = window.indexOf(END, at + END.length)) ended++;
      tail = window.subarray(Math.max(0, window.length - 4));
      if (ended >= count) {
        const ms = Number(process.hrtime.bigint() - started) / 1e6;
        socket.end('QUIT\r\n');
        resolve({ bytes, ms });
      }
    });
  });
}

export async function benchPop3(options: Pop3BenchOptions): Promise<Record<string, number | string>> {
  const dataDir = tempDir('postfach-bench-');
  const dns = await startDnsServer({});
  const populateSeconds = await populate(dataDir, options.messages, (i) => message(i, options.sizeKb));
  const child = await startChildServer({ dns: dns.address, dataDir, overrides: { 'pop3.port': 0, 'smtp.port': -1 } });
  const port = child.ports.pop3;
  try {
    let t = process.hrtime.bigint();
    const wire = await Pop3Wire.connect(port);
    const login = await wire.login('info@firma.de', PASSWORD);
    const loginMs = Number(process.hrtime.bigint() - t) / 1e6;
    if (!login.startsWith(`+OK Logged in, ${options.messages} messages`)) throw new Error(`login: ${login}`);
    t = process.hrtime.bigint();
    const uidl = await wire.multi('UIDL');
    const uidlMs = Number(process.hrtime.bigint() - t) / 1e6;
    if (uidl.lines.length !== options.messages) throw new Error(`UIDL listed ${uidl.lines.length}`);
    await wire.send('QUIT');
    wire.close();

    const retrieved = await retrieveAll(port, options.messages);

    const deleting = await Pop3Wire.connect(port);
    for (let i = 0; i < 50 && !(await deleting.send('USER info@firma.de').then(() => deleting.send(`PASS ${PASSWORD}`))).startsWith('+OK'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20)); // the RETR session's lock goes with its connection
    }
    deleting.write(Array.from({ length: options.messages }, (_, i) => `DELE ${i + 1}\r\n`).join(''));
    for (let i = 0; i < options.messages; i++) await deleting.readLine(60_000);
    t = process.hrtime.bigint();
    deleting.write('QUIT\r\n');
    const quit = await deleting.readLine(600_000);
    const quitMs = Number(process.hrtime.bigint() - t) / 1e6;
    if (quit !== '+OK Postfach POP3 signing off (0 messages left)') throw new Error(`QUIT: ${quit}`);
    deleting.close();
    return {
      benchmark: 'POP3',
      messages: options.messages,
      messageKb: options.sizeKb,
      populateSeconds: Number(populateSeconds.toFixed(1)),
      loginMs: Math.round(loginMs),
      uidlMs: Math.round(uidlMs),
      retrieveAllMs: Math.round(retrieved.ms),
      retrieveMBytes: Number((retrieved.bytes / 1e6).toFixed(1)),
      retrieveMBytesPerSecond: Number((retrieved.bytes / 1e6 / (retrieved.ms / 1000)).toFixed(1)),
      retrieveMessagesPerSecond: Math.round(options.messages / (retrieved.ms / 1000)),
      quitDeletingAllMs: Math.round(quitMs)
    };
  } finally {
    if (child.process.exitCode === null) await child.crash();
    await dns.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
