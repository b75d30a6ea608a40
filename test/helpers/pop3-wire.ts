// Raw POP3 over a socket for hostile input and transcripts: one-line replies, multi-line responses un-stuffed, with
// the timeouts of ImapWire so a silent server fails the test instead of hanging it.
import { ImapWire } from './imap-wire.js';

export interface MultiLine {
  /** the first line: +OK … or -ERR … */
  status: string;
  /** the lines between the status and the "." line, dot-stuffing removed */
  lines: string[];
}

export class Pop3Wire {
  private constructor(readonly wire: ImapWire) {}

  static async connect(port: number, options: { tls?: boolean } = {}): Promise<Pop3Wire> {
    return new Pop3Wire(await ImapWire.connect(port, { ...options, literals: false }));
  }

  get greeting(): string {
    return this.wire.greeting;
  }

  get closed(): boolean {
    return this.wire.closed;
  }

  write(data: string | Buffer): void {
    this.wire.write(data);
  }

  readLine(timeoutMs?: number): Promise<string> {
    return this.wire.readLine(timeoutMs);
  }

  /** Sends one command line and reads its one-line reply. */
  async send(line: string): Promise<string> {
    this.wire.write(`${line}\r\n`);
    return this.wire.readLine();
  }

  /** Reads a multi-line response: status, then lines up to "." when the status is +OK. */
  async readMulti(): Promise<MultiLine> {
    const status = await this.wire.readLine();
    const lines: string[] = [];
    if (!status.startsWith('+OK')) return { status, lines };
    for (;;) {
      const line = await this.wire.readLine();
      if (line === '.') return { status, lines };
      lines.push(line.startsWith('.') ? line.slice(1) : line);
    }
  }

  async multi(line: string): Promise<MultiLine> {
    this.wire.write(`${line}\r\n`);
    return this.readMulti();
  }

  /** USER + PASS; throws unless both answer +OK. */
  async login(user: string, password: string): Promise<string> {
    const userReply = await this.send(`USER ${user}`);
    if (!userReply.startsWith('+OK')) throw new Error(`USER refused: ${userReply}`);
    const reply = await this.send(`PASS ${password}`);
    if (!reply.startsWith('+OK')) throw new Error(`PASS refused: ${reply}`);
    return reply;
  }

  closedByServer(timeoutMs?: number): Promise<void> {
    return this.wire.closedByServer(timeoutMs);
  }

  close(): void {
    this.wire.close();
  }
}
