// One POP3 connection (RFC 1939): AUTHORIZATION -> TRANSACTION -> UPDATE, line reading with a length limit,
// pipelined commands answered in order (RFC 2449 §6.6), a client's half-close, STLS (RFC 2595), the maildrop lock,
// autologout, and the end of the session when an administrator closes the account.
import crypto from 'node:crypto';
import type net from 'node:net';
import type tls from 'node:tls';
import type { LoginLimiter } from '../auth/rate-limit.js';
import { loginAllowed } from '../auth/login.js';
import type { Account } from '../db/schema.js';
import type { Logger } from '../log/logger.js';
import { attachSession, clientAddress, upgradeToTls } from '../net/listener.js';
import type { Services } from '../services.js';
import type { Maildrop, MaildropMessage } from '../store/maildrop.js';
import { malformed, Pop3Error, refuse } from './errors.js';
import { checkCommandLength, LineSplitter, lineTooLong, MAX_LINE, type InputEvent } from './lines.js';

export type Pop3State = 'authorization' | 'transaction' | 'update';

export interface Pop3Context {
  services: Services;
  limiter: LoginLimiter;
  log: Logger;
  /** open sessions of every POP3 listener, for shutdown */
  sessions: Set<Pop3Session>;
  /** maildrop locks (RFC 1939 §8 PASS): account id -> the session in TRANSACTION state on it */
  locks: Map<number, Pop3Session>;
  /** STALE_LOCK_MS; tests shorten it */
  staleLockMs: number;
}

export interface Pop3Command {
  /** the keyword, upper-cased */
  name: string;
  /** arguments separated by single spaces (RFC 1939 §3) */
  args: string[];
  /** everything after the keyword and one space: PASS takes it whole, spaces included (RFC 1939 §7) */
  rest: string;
}

export interface CommandSpec {
  states: Pop3State[];
  /** the text of the +OK line, or nothing when the handler wrote its whole response itself */
  handler(session: Pop3Session, command: Pop3Command): Promise<string | void>;
}

/**
 * Malformed, unknown or misplaced commands in a row before login after which the connection is dropped: what talks
 * garbage to the POP3 port before logging in is not a mail client (a cross-protocol request, a scanner). After login the
 * peer has proven who it is, every line still gets its one reply, and the autologout bounds the session.
 */
const MAX_BAD_COMMANDS = 10;
/** Lines read ahead of the command running before the socket is paused (pipelining backpressure). */
const MAX_QUEUED = 64;
/**
 * A maildrop lock whose session has sent nothing for this long and is not busy answering is taken over by a new
 * login: a client whose connection died silently (a phone leaving Wi-Fi, a NAT timeout) would otherwise lock its
 * user out until the autologout. POP3 clients never pause a minute within a session.
 */
export const STALE_LOCK_MS = 60_000;

/** A command keyword as logs show it: what a client sends as the keyword may be a password typed in the wrong place. */
const loggable = (name: string) => name.slice(0, 8).replace(/[^A-Z]/g, '?');

/** A non-negative decimal argument without its leading zeros ("007" -> "7", "0" -> "0"); null when it is not one. */
export function decimal(arg: string | undefined): string | null {
  return arg !== undefined && /^\d+$/.test(arg) ? arg.replace(/^0+(?=\d)/, '') : null;
}

export class Pop3Session {
  readonly id = crypto.randomBytes(6).toString('hex');
  state: Pop3State = 'authorization';
  account: Account | null = null;
  /** the name given with USER, waiting for PASS */
  user: string | null = null;
  maildrop: Maildrop | null = null;
  /** message numbers marked by DELE (RFC 1939 §5: applied only in the UPDATE state) */
  readonly deleted = new Set<number>();
  /** message numbers sent whole by RETR */
  readonly retrieved = new Set<number>();
  readonly log: Logger;
  readonly remoteAddress: string;
  secure: boolean;

  private socket: net.Socket | tls.TLSSocket;
  private readonly lines = new LineSplitter();
  private readonly queue: InputEvent[] = [];
  private lineWaiter: ((event: InputEvent | null) => void) | null = null;
  private processing = false;
  private badCommands = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private closed = false;
  /** the client half-closed its side: what it sent is still answered, then the connection ends */
  private inputEnded = false;
  /** between STLS's +OK and the end of the handshake */
  private handshaking = false;
  private lastInput = Date.now();

  constructor(
    readonly ctx: Pop3Context,
    socket: net.Socket | tls.TLSSocket,
    private readonly commands: ReadonlyMap<string, CommandSpec>,
    secure: boolean
  ) {
    this.socket = socket;
    this.secure = secure;
    this.remoteAddress = clientAddress(socket);
    this.log = ctx.log.child({ cid: this.id, ip: this.remoteAddress });
    this.attach(socket);
    this.resetIdleTimer();
  }

  get config() {
    return this.ctx.services.config;
  }

  /** USER/PASS and AUTH are offered and accepted here (pop3.plaintextLogin before STLS). */
  get loginAllowed(): boolean {
    return loginAllowed(this.config.pop3.plaintextLogin, this.secure, this.remoteAddress);
  }

  greet(): void {
    // no APOP timestamp: APOP needs the password in clear on the server (RFC 1939 §7), which argon2id hashes rule out
    this.write('+OK Postfach POP3 ready\r\n');
  }

  // ---- output -------------------------------------------------------------------------------------------

  /** Writes and tells whether the socket buffer is below its high-water mark. */
  write(data: string | Buffer): boolean {
    if (this.closed) return false;
    return this.socket.write(data);
  }

  /** Waits until buffered output drained (a long RETR; before each command). */
  async drain(): Promise<void> {
    if (this.closed || !this.socket.writableNeedDrain) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /** A multi-line response (RFC 1939 §3): +OK line, lines (dot-stuffed), "." */
  writeList(status: string, lines: string[]): void {
    const body = lines.map((l) => (l.startsWith('.') ? '.' + l : l) + '\r\n').join('');
    this.write(`+OK ${status}\r\n${body}.\r\n`);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  // ---- input --------------------------------------------------------------------------------------------

  /** removes this session's handlers from its socket (before a TLS upgrade) */
  private detach: () => void = () => undefined;

  private attach(socket: net.Socket | tls.TLSSocket): void {
    const detach = attachSession(socket, {
      data: (chunk) => this.input(chunk),
      error: (err) => this.log.debug({ err }, 'socket error'),
      close: () => this.onClose()
    });
    // A client may send its commands and then shut down its sending side (a script through `ncat`, a test suite):
    // TCP's FIN says "nothing more from me", not "stop answering". Its commands are answered in order, QUIT included,
    // before the connection ends; a connection that is gone (reset, error) still ends the session at once.
    const halfOpen = socket.allowHalfOpen;
    socket.allowHalfOpen = true;
    const ended = () => this.onInputEnd();
    socket.on('end', ended);
    this.detach = () => {
      detach();
      socket.off('end', ended);
      socket.allowHalfOpen = halfOpen;
    };
  }

  private onInputEnd(): void {
    // a handshake the client stopped sending for cannot finish: nothing is left to answer
    if (this.handshaking) {
      this.socket.destroy();
      return;
    }
    this.inputEnded = true;
    this.lineWaiter?.(null);
    this.lineWaiter = null;
    void this.process();
  }

  private input(chunk: Buffer): void {
    if (this.closed) return;
    this.resetIdleTimer();
    this.lastInput = Date.now();
    for (const event of this.lines.push(chunk)) this.deliver(event);
    if (this.queue.length > MAX_QUEUED) this.socket.pause();
    void this.process();
  }

  private deliver(event: InputEvent): void {
    if (this.lineWaiter) {
      const waiter = this.lineWaiter;
      this.lineWaiter = null;
      waiter(event);
    } else this.queue.push(event);
  }

  /**
   * The next line from the client (a SASL response); null when the connection closed. A line past MAX_LINE fails the
   * command it belongs to with "Line too long": it is no response at all, so it must not be checked as credentials.
   */
  async readLine(): Promise<string | null> {
    const event =
      this.queue.shift() ??
      (this.closed || this.inputEnded
        ? null
        : await new Promise<InputEvent | null>((resolve) => {
            this.lineWaiter = resolve;
          }));
    if (event?.kind === 'too-long') throw lineTooLong(MAX_LINE);
    return event ? event.line : null;
  }

  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length && !this.closed) {
        const event = this.queue.shift()!;
        if (this.queue.length < MAX_QUEUED / 2 && this.socket.isPaused()) this.socket.resume();
        // replies the client does not read are not produced ahead without bound
        await this.drain();
        if (this.closed) break;
        if (event.kind === 'too-long') this.refuse(lineTooLong(MAX_LINE), '');
        else await this.run(event.line);
        // the client's silence is counted from the end of the last response (a long RETR is not silence)
        if (!this.closed) this.resetIdleTimer();
      }
    } finally {
      this.processing = false;
    }
    if (this.inputEnded && !this.queue.length) this.end();
  }

  private countBad(): void {
    if (this.state !== 'authorization' || ++this.badCommands < MAX_BAD_COMMANDS) return;
    this.log.info({ bad: this.badCommands }, 'closing: too many bad commands');
    this.write('-ERR Too many bad commands, closing\r\n');
    this.end();
  }

  private async run(line: string): Promise<void> {
    const space = line.indexOf(' ');
    const name = (space < 0 ? line : line.slice(0, space)).toUpperCase();
    const rest = space < 0 ? '' : line.slice(space + 1);
    const command: Pop3Command = { name, args: rest === '' ? [] : rest.split(' '), rest };
    try {
      checkCommandLength(line, name);
      const spec = this.commands.get(name);
      if (!spec) throw malformed(name ? 'Unknown command' : 'Empty command');
      if (!spec.states.includes(this.state)) throw malformed(`${name} is not valid in this state`);
      const text = await spec.handler(this, command);
      if (typeof text === 'string') this.write(`+OK ${text}\r\n`);
      this.badCommands = 0;
    } catch (err) {
      if (this.closed) return;
      if (err instanceof Pop3Error) this.refuse(err, name);
      else {
        this.log.error({ err, command: loggable(name) }, 'command failed');
        this.write('-ERR [SYS/TEMP] Internal error, try again\r\n');
      }
    }
  }

  private refuse(err: Pop3Error, name: string): void {
    this.write(err.line);
    this.log.info({ command: loggable(name), code: err.code }, err.message);
    if (err.bad) this.countBad();
  }

  // ---- messages -----------------------------------------------------------------------------------------

  /**
   * The message numbered by the argument (RFC 1939 §5: 1-based, deleted ones excluded). Any string of digits is a
   * number (RFC 1939 §3 grammar: 1*DIGIT), leading zeros and numbers past any maildrop included: those are "no such
   * message", not a malformed command.
   */
  message(arg: string | undefined): { number: number; message: MaildropMessage } {
    const digits = decimal(arg);
    if (digits === null) throw malformed('Expected a message number');
    const number = Number(digits);
    const message = number <= Number.MAX_SAFE_INTEGER ? this.maildrop!.messages[number - 1] : undefined;
    if (!message) throw refuse(`No message ${digits}`);
    if (this.deleted.has(number)) throw refuse(`Message ${number} is deleted`);
    return { number, message };
  }

  /** Message numbers and messages not marked deleted. */
  *live(): Generator<[number, MaildropMessage]> {
    const messages = this.maildrop?.messages ?? [];
    for (let i = 0; i < messages.length; i++) if (!this.deleted.has(i + 1)) yield [i + 1, messages[i]];
  }

  /** "n messages (m octets)" of what is not marked deleted. */
  summary(): { count: number; octets: number } {
    let count = 0;
    let octets = 0;
    for (const [, message] of this.live()) {
      count++;
      octets += message.size;
    }
    return { count, octets };
  }

  // ---- login and lock -----------------------------------------------------------------------------------

  /**
   * Takes the maildrop lock for the account; false when another live session holds it (a stale holder, see
   * STALE_LOCK_MS, is ended without UPDATE). One process holds every lock: several nodes would need them in the database.
   */
  lock(account: Account): boolean {
    const holder = this.ctx.locks.get(account.id);
    if (holder && holder !== this && !holder.closed) {
      if (holder.processing || Date.now() - holder.lastInput < this.ctx.staleLockMs) return false;
      holder.kick('Session replaced by a newer login', 'SYS/TEMP');
    }
    this.ctx.locks.set(account.id, this);
    return true;
  }

  unlock(): void {
    if (this.account && this.ctx.locks.get(this.account.id) === this) this.ctx.locks.delete(this.account.id);
  }

  /** After login: an administrator deactivating, deleting or merging the account ends the session (no UPDATE). */
  watchAccount(accountId: number): void {
    this.unsubscribe?.();
    this.unsubscribe = this.ctx.services.notifier.subscribe(accountId, (change) => {
      if (change.kind === 'account') this.kick('Account closed by the administrator');
    });
  }

  /**
   * Ends the session from outside (account closed, shutdown) without entering UPDATE: nothing is deleted. Between
   * commands the client is told why; during a response the connection just closes, so a half-sent message is never
   * taken for a whole one.
   */
  kick(text: string, code: 'SYS/TEMP' | 'SYS/PERM' = 'SYS/PERM'): void {
    if (this.closed) return;
    this.log.info({ reason: text }, 'session ended');
    if (this.processing) {
      this.socket.destroy();
      this.onClose();
      return;
    }
    this.write(`-ERR [${code}] ${text}\r\n`);
    this.end();
  }

  // ---- STLS ---------------------------------------------------------------------------------------------

  /** RFC 2595 §4: the +OK goes out in clear, then the handshake; lines read ahead of it are discarded. */
  async startTls(): Promise<void> {
    const plain = this.socket as net.Socket;
    const { socket, ready } = upgradeToTls(plain, this.ctx.services.tls, this.detach);
    this.socket = socket;
    this.secure = true;
    this.queue.length = 0;
    this.lines.reset();
    this.attach(socket);
    this.handshaking = true;
    try {
      await ready;
    } finally {
      this.handshaking = false;
    }
  }

  // ---- ending -------------------------------------------------------------------------------------------

  private resetIdleTimer(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      let written = this.socket.bytesWritten;
      // RFC 1939 §3: autologout closes without a response and without entering UPDATE
      this.idleTimer = setTimeout(() => {
        // a long RETR to a slow client is not idleness as long as the client keeps reading
        if (this.processing && this.socket.bytesWritten > written) {
          written = this.socket.bytesWritten;
          this.idleTimer!.refresh();
          return;
        }
        this.log.info('autologout: idle for too long');
        this.socket.destroy();
        this.onClose();
      }, this.config.pop3.idleTimeout * 1000);
      this.idleTimer.unref();
    }
  }

  end(): void {
    if (this.closed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.onClose();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.unsubscribe?.();
    this.lineWaiter?.(null);
    this.lineWaiter = null;
    this.unlock();
    this.ctx.sessions.delete(this);
  }
}
