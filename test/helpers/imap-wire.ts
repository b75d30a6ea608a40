// Raw IMAP over a socket for golden transcripts, hostile input and benchmarks: write bytes, read until a tagged
// reply (literals counted, not parsed), with timeouts so a silent server fails instead of hanging.
import net from 'node:net';
import tls from 'node:tls';

export interface TaggedReply {
  /** every response line up to and including the tagged one (literal bytes stay inside their line's text) */
  lines: string[];
  /** the tagged line */
  tagged: string;
  bytes: number;
}

export class ImapWire {
  private buffer: Buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  closed = false;
  /** the server's first line */
  greeting = '';

  private constructor(
    readonly socket: net.Socket,
    /** false for protocols without literals (POP3): a line ending in {n} is just a line */
    private readonly literals = true
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number, options: { tls?: boolean; host?: string; literals?: boolean } = {}): Promise<ImapWire> {
    const host = options.host ?? '127.0.0.1';
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = options.tls ? tls.connect({ port, host, rejectUnauthorized: false }, () => resolve(s)) : net.connect({ port, host }, () => resolve(s));
      s.once('error', reject);
    });
    const wire = new ImapWire(socket, options.literals);
    wire.greeting = await wire.readLine();
    return wire;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  private async more(timeoutMs: number): Promise<void> {
    if (this.closed) throw new Error('connection closed');
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new Error(`no answer within ${timeoutMs} ms; have: ${this.buffer.toString('latin1').slice(-300)}`));
      }, timeoutMs);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = null;
        resolve();
      };
    });
  }

  /** One response line including any literals it announces, without the final CRLF. */
  async readLine(timeoutMs = 10_000): Promise<string> {
    let start = 0;
    for (;;) {
      const nl = this.buffer.indexOf('\r\n', start);
      if (nl >= 0) {
        const m = this.literals && /\{(\d+)\+?\}$/.exec(this.buffer.toString('latin1', Math.max(start, nl - 24), nl));
        if (m) {
          const need = nl + 2 + Number(m[1]);
          if (this.buffer.length >= need) {
            start = need;
            continue;
          }
        } else {
          const line = this.buffer.toString('utf8', 0, nl);
          this.buffer = this.buffer.subarray(nl + 2);
          return line;
        }
      }
      await this.more(timeoutMs);
    }
  }

  /** Sends a command and reads to its tagged reply. */
  async command(tag: string, text: string, timeoutMs = 10_000): Promise<TaggedReply> {
    this.write(`${tag} ${text}\r\n`);
    return this.readTagged(tag, timeoutMs);
  }

  async readTagged(tag: string, timeoutMs = 10_000): Promise<TaggedReply> {
    const lines: string[] = [];
    let bytes = 0;
    for (;;) {
      const line = await this.readLine(timeoutMs);
      lines.push(line);
      bytes += line.length + 2;
      if (line.startsWith(tag + ' ')) return { lines, tagged: line, bytes };
    }
  }

  /** Resolves when the server closed the connection. */
  async closedByServer(timeoutMs = 5000): Promise<void> {
    while (!this.closed) await this.more(timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }
}
