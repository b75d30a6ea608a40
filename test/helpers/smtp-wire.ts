// Test helper: a raw, line-oriented SMTP client over node:net for tests that must send what no real client sends
// (bare CR/LF, NUL bytes, pipelined garbage). Every read has a timeout, so a server that stays silent fails the
// test instead of hanging it.
import net from 'node:net';

/** One complete server reply (RFC 5321 §4.2: `code-text` continuation lines, then `code text`). */
export interface WireReply {
  code: number;
  /** every line of the reply as received, without CRLF */
  lines: string[];
  /** the last line, e.g. `550 5.1.1 Recipient address rejected: no such mailbox here` */
  line: string;
}

export interface WireOptions {
  host?: string;
  /** milliseconds any single read or connect may take */
  timeout?: number;
  /** connect from this local address (another loopback address: 127.0.0.2 …) */
  localAddress?: string;
}

const DEFAULT_TIMEOUT = 5000;
const REPLY_LINE = /^(\d{3})([ -])(.*)$|^(\d{3})$/;

export class SmtpWire {
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  private closedFlag = false;
  private readonly closedPromise: Promise<void>;
  /** a socket error (EPIPE, ECONNRESET) the server caused by hanging up; kept, never thrown at random */
  error: Error | null = null;

  private constructor(
    readonly socket: net.Socket,
    readonly timeout: number
  ) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('error', (err) => {
      this.error = err;
    });
    this.closedPromise = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedFlag = true;
        this.wake();
        resolve();
      })
    );
  }

  /** Opens a TCP connection; the greeting is not read yet (see greeting()). */
  static connect(port: number, options: WireOptions = {}): Promise<SmtpWire> {
    const timeout = options.timeout ?? DEFAULT_TIMEOUT;
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: options.host ?? '127.0.0.1', localAddress: options.localAddress });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to port ${port} timed out after ${timeout} ms`));
      }, timeout);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new SmtpWire(socket, timeout));
      });
    });
  }

  /** Connects, expects a 220 greeting and says EHLO: a session ready for MAIL FROM. */
  static async session(port: number, options: WireOptions & { ehlo?: string } = {}): Promise<SmtpWire> {
    const wire = await SmtpWire.connect(port, options);
    const greeting = await wire.reply();
    if (greeting.code !== 220) {
      wire.destroy();
      throw new Error(`expected a 220 greeting, got: ${greeting.lines.join(' | ')}`);
    }
    const ehlo = await wire.command(`EHLO ${options.ehlo ?? 'client.sender.test'}`);
    if (ehlo.code !== 250) {
      wire.destroy();
      throw new Error(`EHLO refused: ${ehlo.lines.join(' | ')}`);
    }
    return wire;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Writes bytes as they are (no CRLF added); resolves once the socket took them. */
  write(data: string | Buffer): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    return new Promise((resolve) => {
      if (this.socket.destroyed || !this.socket.writable) return resolve();
      // the callback also fires with an error when the server hung up; callers assert on replies and closed
      this.socket.write(bytes, () => resolve());
    });
  }

  /** Writes the pieces one by one with a pause between them, so the server reads them as separate chunks. */
  async writeSplit(pieces: Array<string | Buffer>, pauseMs = 15): Promise<void> {
    for (let i = 0; i < pieces.length; i++) {
      if (i) await new Promise((r) => setTimeout(r, pauseMs));
      await this.write(pieces[i]);
    }
  }

  /** Writes one command line with CRLF. */
  send(line: string): Promise<void> {
    return this.write(`${line}\r\n`);
  }

  /** Reads one complete (possibly multi-line) reply. */
  async reply(timeout = this.timeout): Promise<WireReply> {
    const deadline = Date.now() + timeout;
    const lines: string[] = [];
    for (;;) {
      const eol = this.buffer.indexOf('\r\n');
      if (eol >= 0) {
        // decoded as UTF-8 so a non-ASCII byte in a reply shows as what it is (replies must be ASCII, RFC 5321 §4.2)
        const text = this.buffer.subarray(0, eol).toString('utf8');
        this.buffer = this.buffer.subarray(eol + 2);
        const m = REPLY_LINE.exec(text);
        if (!m) throw new Error(`not an SMTP reply line: ${JSON.stringify(text)}`);
        lines.push(text);
        if (m[2] !== '-') return { code: Number(m[1] ?? m[4]), lines, line: text };
        continue;
      }
      if (this.closedFlag) {
        throw new Error(`connection closed while waiting for a reply${lines.length || this.buffer.length ? ` (partial: ${JSON.stringify(lines.join('\n') + this.unread)})` : ''}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no complete reply within ${timeout} ms${lines.length || this.buffer.length ? ` (partial: ${JSON.stringify(lines.join('\n') + this.unread)})` : ''}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Reads n replies in order (pipelining). */
  async replies(n: number, timeout = this.timeout): Promise<WireReply[]> {
    const out: WireReply[] = [];
    for (let i = 0; i < n; i++) out.push(await this.reply(timeout));
    return out;
  }

  /** Sends one command line and reads its reply. */
  async command(line: string, timeout = this.timeout): Promise<WireReply> {
    await this.send(line);
    return this.reply(timeout);
  }

  /** Bytes received but not yet read as a reply (a server that answers more than it should leaves some). */
  get unread(): string {
    return this.buffer.toString('utf8');
  }

  /** Resolves when the server has closed the connection; rejects after timeout. */
  async waitClosed(timeout = this.timeout): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.closedPromise,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`connection still open after ${timeout} ms`)), timeout);
        })
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** QUIT, expect 221, wait for the server to close. */
  async quit(): Promise<void> {
    const bye = await this.command('QUIT');
    if (bye.code !== 221) throw new Error(`QUIT answered: ${bye.line}`);
    this.socket.end();
    await this.waitClosed();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Polls check until it returns true or the deadline passes (for effects the server applies asynchronously). */
export async function eventually(check: () => Promise<boolean> | boolean, timeout = 3000, every = 25): Promise<boolean> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, every));
  }
}
