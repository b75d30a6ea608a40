// Threat: decompression bombs after COMPRESS=DEFLATE (RFC 4978). About a megabyte of deflate stream inflates to more
// than a gigabyte: as one endless line (the line limit must end the session at once) or as millions of pipelined
// commands (the session must stop inflating while its command queue is full, not queue them all). The server runs in
// this process, so its memory is this process's RSS, and the zlib streams it makes for COMPRESS can be watched: what
// it inflated and what it compressed are counted, not timed. Also: an ordinary compressed session works end to end.
import net from 'node:net';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ImapWire } from '../helpers/imap-wire.js';
import { storeMail, textMail } from '../helpers/mail-store.js';
import { PASSWORD, provision, startServer, type TestServer } from '../helpers/server.js';

let server: TestServer;
let port: number;
const open: net.Socket[] = [];

beforeAll(async () => {
  server = await startServer({ overrides: { 'imap.port': 0 } });
  port = server.ports.imap!;
  await provision(server, 'firma.de', ['info', 'buchhaltung']);
  await storeMail(server, 'info@firma.de', textMail('Komprimiert'));
});

afterAll(async () => {
  for (const socket of open) socket.destroy();
  await server?.close();
});

/** A client side of RFC 4978: raw deflate out (a sync flush per write), raw inflate in. */
class CompressedClient {
  /** the server's end of this session (its zlib streams), set by start() */
  server!: ServerSide;
  private readonly inflate = zlib.createInflateRaw();
  private readonly deflate = zlib.createDeflateRaw();
  private text = '';
  private waiter: (() => void) | null = null;
  closed = false;

  constructor(readonly socket: net.Socket) {
    socket.removeAllListeners('data');
    socket.on('data', (chunk: Buffer) => this.inflate.write(chunk));
    // closed once the socket closed and what arrived before is inflated
    const finish = () => {
      this.closed = true;
      this.waiter?.();
    };
    socket.on('close', () => this.inflate.end());
    this.inflate.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1');
      this.waiter?.();
    });
    this.inflate.on('end', finish);
    this.inflate.on('error', finish);
    this.deflate.on('data', (chunk: Buffer) => socket.write(chunk));
  }

  /** After "tag COMPRESS DEFLATE" was answered OK on the plain wire; also finds the server's side of it. */
  static async start(wire: ImapWire): Promise<CompressedClient> {
    // the server makes its zlib streams while it handles COMPRESS, right after writing the OK: the factories, watched
    // for just that command, return them (the client's own streams are made after the watch ends)
    const inflates = vi.spyOn(zlib, 'createInflateRaw');
    const deflates = vi.spyOn(zlib, 'createDeflateRaw');
    let made: unknown[];
    try {
      expect((await wire.command('C', 'COMPRESS DEFLATE')).lines).toEqual(['C OK DEFLATE active']);
      made = [...inflates.mock.results, ...deflates.mock.results].map((result) => result.value);
    } finally {
      inflates.mockRestore();
      deflates.mockRestore();
    }
    expect(made.map((stream) => stream?.constructor.name)).toEqual(['InflateRaw', 'DeflateRaw']);
    const client = new CompressedClient(wire.socket);
    client.server = new ServerSide(made[0] as zlib.InflateRaw, made[1] as zlib.DeflateRaw);
    return client;
  }

  send(text: string): void {
    this.deflate.write(text);
    this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
  }

  /** Raw compressed bytes the test made itself (a bomb). */
  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  async readLine(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      // a literal {n} at the end of a line: the line goes on after n octets
      let end = -1;
      for (let from = 0; ; ) {
        const nl = this.text.indexOf('\r\n', from);
        if (nl < 0) break;
        const literal = /\{(\d+)\+?\}$/.exec(this.text.slice(Math.max(from, nl - 24), nl));
        if (!literal) {
          end = nl;
          break;
        }
        from = nl + 2 + Number(literal[1]);
        if (from > this.text.length) break;
      }
      if (end >= 0) {
        const line = this.text.slice(0, end);
        this.text = this.text.slice(end + 2);
        return Buffer.from(line, 'latin1').toString('utf8');
      }
      if (this.closed) throw new Error(`connection closed; have: ${this.text.slice(-200)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no answer within ${timeoutMs} ms; have: ${this.text.slice(-200)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve();
        };
      });
    }
  }

  async command(tag: string, text: string): Promise<string[]> {
    this.send(`${tag} ${text}\r\n`);
    const lines: string[] = [];
    for (;;) {
      const line = await this.readLine();
      lines.push(line);
      if (line.startsWith(`${tag} `)) return lines;
    }
  }

  async closedByServer(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`still open after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/** The server's zlib streams of one compressed session: what it inflated and what it compressed, in bytes. */
class ServerSide {
  /** bytes the server inflated and handed to its command parser */
  inflated = 0;

  constructor(
    readonly inflate: zlib.InflateRaw,
    private readonly deflate: zlib.DeflateRaw
  ) {
    inflate.on('data', (chunk: Buffer) => (this.inflated += chunk.length));
  }

  /** bytes of replies the server compressed (zlib's count of input it consumed) */
  get replied(): number {
    return this.deflate.bytesWritten;
  }

  /** Resolves once the server destroyed its inflate stream (the session ended); fails when it does not. */
  async stoppedInflating(deadlineMs: number): Promise<void> {
    if (this.inflate.destroyed) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the server still inflates ${deadlineMs} ms after the session ended`)), deadlineMs);
      this.inflate.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

async function loggedIn(): Promise<ImapWire> {
  const wire = await ImapWire.connect(port);
  open.push(wire.socket);
  expect((await wire.command('L', `LOGIN info@firma.de ${PASSWORD}`)).tagged).toMatch(/^L OK /);
  return wire;
}

/**
 * A raw deflate stream that inflates to `total` bytes of `unit` repeated, built without ever holding them: a priming
 * block fills the 32 KiB window, then one compressed 16 MiB block is repeated. Every repetition decodes alike, since
 * its back references only reach into the window, which always holds the same periodic text in the same phase.
 */
async function deflateBomb(unit: string, total: number): Promise<{ stream: Buffer; inflatedSize: number }> {
  const deflate = zlib.createDeflateRaw({ level: 9, memLevel: 9 });
  const out: Buffer[] = [];
  deflate.on('data', (chunk: Buffer) => out.push(chunk));
  const flushed = () => new Promise<Buffer>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(out.splice(0)))));
  const prime = Buffer.from(unit.repeat(Math.ceil(65536 / unit.length)));
  deflate.write(prime);
  const primed = await flushed();
  const block = Buffer.from(unit.repeat(Math.floor((16 * 1024 * 1024) / unit.length)));
  deflate.write(block);
  const repeated = await flushed();
  deflate.close();
  const copies = Math.ceil((total - prime.length) / block.length);
  const stream = Buffer.concat([primed, ...Array<Buffer>(copies).fill(repeated)]);
  // the stream is what we claim: check a prefix inflates to the periodic text
  const head = zlib.inflateRawSync(Buffer.concat([primed, repeated, repeated]), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  expect(head.length).toBe(prime.length + 2 * block.length);
  expect(head.subarray(prime.length + block.length, prime.length + block.length + 64).toString()).toBe(unit.repeat(Math.ceil(64 / unit.length)).slice(0, 64));
  return { stream, inflatedSize: prime.length + copies * block.length };
}

/** Samples this process's RSS until stop() and returns the largest growth seen. */
function watchMemory(): { stop(): number } {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(peak, process.memoryUsage().rss) - base;
    }
  };
}

describe('COMPRESS=DEFLATE', () => {
  it('an ordinary compressed session works end to end', async () => {
    const client = await CompressedClient.start(await loggedIn());
    const capability = await client.command('c1', 'CAPABILITY');
    expect(capability[0]).toMatch(/^\* CAPABILITY IMAP4rev1 IMAP4rev2 /);
    expect(capability[0]).not.toContain('COMPRESS=DEFLATE');
    expect(capability[1]).toBe('c1 OK CAPABILITY completed');
    expect(await client.command('c2', 'COMPRESS DEFLATE')).toEqual(['c2 NO [COMPRESSIONACTIVE] Compression is already active']);
    const select = await client.command('c3', 'SELECT INBOX');
    expect(select[0]).toBe('* 1 EXISTS');
    expect(select.at(-1)).toBe('c3 OK [READ-WRITE] SELECT completed');
    const body = textMail('Komprimiert');
    expect(await client.command('c4', 'FETCH 1 (UID BODY.PEEK[])')).toEqual([`* 1 FETCH (UID 1 BODY[] {${body.length}}\r\n${body})`, 'c4 OK FETCH completed']);
    const appended = textMail('Zurück');
    client.send(`c5 APPEND INBOX {${Buffer.byteLength(appended)}+}\r\n${appended}\r\n`);
    const append = [await client.readLine(), await client.readLine()];
    expect(append[0]).toBe('* 2 EXISTS');
    expect(append[1]).toMatch(/^c5 OK \[APPENDUID \d+ 2\] APPEND completed$/);
    expect(await client.command('c6', 'UID SEARCH CHARSET UTF-8 SUBJECT "Zurück"')).toEqual(['* SEARCH 2', 'c6 OK UID SEARCH completed']);
    expect(await client.command('c7', 'LOGOUT')).toEqual(['* BYE Postfach logging out', 'c7 OK LOGOUT completed']);
    await client.closedByServer(3000);
  });

  it('invalid compressed data ends the session', async () => {
    const wire = await loggedIn();
    const client = await CompressedClient.start(wire);
    client.sendRaw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
    await client.closedByServer(3000);
  });

  it('a stream inflating to > 1 GB of one endless line: BYE at the line limit, inflating stops there, memory flat', async () => {
    const { stream, inflatedSize } = await deflateBomb('A', 1.1 * 1024 ** 3);
    expect(inflatedSize).toBeGreaterThan(1024 ** 3);
    expect(stream.length).toBeLessThan(2 * 1024 * 1024);
    const client = await CompressedClient.start(await loggedIn());
    const memory = watchMemory();
    client.sendRaw(stream);
    expect(await client.readLine()).toBe('* BAD Line too long');
    expect(await client.readLine()).toBe('* BYE Line too long');
    await client.closedByServer(5000);
    // the session ended its inflate stream with the BYE: of the 1.1 GB it inflated what crossed the 64 KiB line limit
    // (its inflate chunks are 64 KiB), nothing after
    expect(client.server.inflate.destroyed).toBe(true);
    expect(client.server.inflated).toBeGreaterThan(64 * 1024);
    expect(client.server.inflated).toBeLessThanOrEqual(3 * 64 * 1024);
    expect(memory.stop()).toBeLessThan(200 * 1024 * 1024);
    // the server is fine
    const other = await loggedIn();
    expect((await other.command('o1', 'NOOP')).tagged).toBe('o1 OK NOOP completed');
  });

  it('a stream inflating to millions of pipelined commands is inflated only as fast as they run', async () => {
    const unit = 'a NOOP\r\n';
    const reply = 'a OK NOOP completed\r\n';
    const { stream, inflatedSize } = await deflateBomb(unit, 512 * 1024 * 1024);
    expect(inflatedSize / unit.length).toBeGreaterThan(60_000_000);
    const client = await CompressedClient.start(await loggedIn());
    const { server } = client;
    // commands the server inflated but has not answered yet, at its largest: sampled each time it inflates a chunk.
    // It may read ahead what its queue holds (64 commands) and the 64 KiB inflate chunks in flight, not the rest of
    // the 64 million; a server that goes on inflating is cut off as soon as it is past that
    const bound = (3 * 64 * 1024) / unit.length;
    let readAhead = 0;
    server.inflate.on('data', () => {
      readAhead = Math.max(readAhead, server.inflated / unit.length - server.replied / reply.length);
      if (readAhead > bound) client.socket.destroy();
    });
    const memory = watchMemory();
    client.sendRaw(stream);
    const answered = 5_000;
    for (let waited = 0; server.replied < answered * reply.length && !client.socket.destroyed; waited += 20) {
      if (waited > 20_000) throw new Error(`only ${server.replied / reply.length} NOOPs answered`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // the session inflates only as many commands as it has room for …
    expect(readAhead).toBeLessThan(bound);
    // … and runs them: the client has its answers
    expect(await client.readLine()).toBe('a OK NOOP completed');
    expect(memory.stop()).toBeLessThan(64 * 1024 * 1024);
    client.socket.destroy();
    // once the client is gone the session ends its inflate stream: the other 500 MB are never inflated
    await server.stoppedInflating(5000);
    const other = await loggedIn();
    expect((await other.command('o1', 'NOOP')).tagged).toBe('o1 OK NOOP completed');
  });
});
