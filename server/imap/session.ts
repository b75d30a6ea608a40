// One IMAP connection: the state machine (RFC 9051 §3), command dispatch with pipelining, continuation requests,
// raw lines for IDLE/AUTHENTICATE, STARTTLS and COMPRESS=DEFLATE stream swaps, and untagged update delivery.
import crypto from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { Writable } from 'node:stream';
import type { Account } from '../db/schema.js';
import type { Logger } from '../log/logger.js';
import type { Services } from '../services.js';
import type { MailboxChange } from '../store/notifier.js';
import { ImapError } from './errors.js';
import { CommandParser, type ImapCommand, type ParserEvent } from './parser.js';
import type { SelectedMailbox } from './selected.js';
import type { LoginLimiter } from '../auth/rate-limit.js';
import { loginAllowed } from '../auth/login.js';
import { attachSession, upgradeToTls } from '../net/listener.js';

export type SessionState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

export interface ImapContext {
  services: Services;
  limiter: LoginLimiter;
  log: Logger;
  /** sessions by id, for shutdown and the IDLE benchmark's accounting */
  sessions: Set<ImapSession>;
}

export interface CommandResult {
  /** response code for the tagged OK, without brackets */
  code?: string;
  text?: string;
  /** the handler wrote the tagged response itself (STARTTLS, COMPRESS: it must precede the stream change) */
  sent?: true;
}

export interface CommandSpec {
  /** states in which the command is valid */
  states: SessionState[];
  handler(session: ImapSession, command: ImapCommand): Promise<CommandResult | void>;
  /** sequence-number commands during which EXPUNGE must not be sent (RFC 9051 §7.5.1) */
  holdsExpunge?: boolean;
}

/**
 * Literals before login: only LOGIN, AUTHENTICATE and ID take them (an address, a password of at most 1024 octets,
 * ID values of at most 1024), so an unauthenticated client cannot make the server hold APPENDLIMIT bytes.
 */
export const PREAUTH_LITERAL_LIMIT = 8 * 1024;

/** Limits of the command parser (hostile input, STYLE.md §10); smaller before login. */
export function parserLimits(appendLimit: number, authenticated = true) {
  return {
    maxLineLength: 64 * 1024, // RFC 7162 §4 recommends accepting at least 8192-octet lines
    maxLiteralSize: authenticated ? appendLimit : PREAUTH_LITERAL_LIMIT,
    maxCommandSize: authenticated ? appendLimit + 1024 * 1024 : 128 * 1024,
    maxNesting: 16,
    maxValues: 100_000
  };
}

/** Commands that failed or were malformed in a row before the session is dropped. */
const MAX_BAD_COMMANDS = 20;
/** Commands read ahead of the one running before the socket is paused (pipelining backpressure). */
const MAX_QUEUED = 64;

export class ImapSession {
  readonly id = crypto.randomBytes(6).toString('hex');
  state: SessionState = 'not-authenticated';
  account: Account | null = null;
  selected: SelectedMailbox | null = null;
  /** ENABLEd extensions (RFC 5161): CONDSTORE, QRESYNC, IMAP4REV2, UTF8=ACCEPT */
  readonly enabled = new Set<string>();
  /** CONDSTORE was turned on by a command that uses it (RFC 7162 §3.1) */
  condstore = false;
  compressed = false;
  /** the last SEARCH result, for SEARCHRES ($) (RFC 5182) */
  searchResult: number[] = [];
  readonly log: Logger;
  readonly remoteAddress: string;

  private socket: net.Socket | tls.TLSSocket;
  private parser: CommandParser;
  private readonly queue: ParserEvent[] = [];
  private processing = false;
  private badCommands = 0;
  private inflate: zlib.Inflate | null = null;
  private deflate: zlib.Deflate | null = null;
  private lineWaiter: ((line: Buffer | null) => void) | null = null;
  private unsubscribe: (() => void) | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** the command running now (its handler and tagged reply) */
  private running: Promise<void> | null = null;
  /** the server stops: no further command is started */
  private stopping = false;
  /** set while IDLE runs: updates are written as they happen */
  idling = false;

  constructor(
    readonly ctx: ImapContext,
    socket: net.Socket | tls.TLSSocket,
    readonly commands: Map<string, CommandSpec>,
    secure: boolean
  ) {
    this.socket = socket;
    this.secure = secure;
    this.remoteAddress = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    this.log = ctx.log.child({ cid: this.id, ip: this.remoteAddress });
    this.parser = new CommandParser(parserLimits(ctx.services.config.imap.appendLimit, false), { literalPlus: true });
    this.attach(socket);
    this.resetIdleTimer();
  }

  secure: boolean;

  get config() {
    return this.ctx.services.config;
  }

  /** LOGIN/AUTHENTICATE are refused before TLS unless the configuration allows plaintext here. */
  get loginDisabled(): boolean {
    return !loginAllowed(this.config.imap.plaintextLogin, this.secure, this.remoteAddress);
  }

  get utf8(): boolean {
    return this.enabled.has('UTF8=ACCEPT') || this.enabled.has('IMAP4REV2');
  }

  greet(): void {
    this.write(`* OK [CAPABILITY ${this.capabilities().join(' ')}] Postfach IMAP ready\r\n`);
  }

  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'IMAP4rev2'];
    if (this.state === 'not-authenticated') {
      if (!this.secure && this.ctx.services.tls) caps.push('STARTTLS');
      if (this.loginDisabled) caps.push('LOGINDISABLED');
      else caps.push('AUTH=PLAIN');
      caps.push('SASL-IR', 'ID', 'ENABLE', 'LITERAL+');
      return caps;
    }
    caps.push(
      'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UIDPLUS', 'MOVE', 'UNSELECT', 'CHILDREN', 'SPECIAL-USE',
      'LIST-EXTENDED', 'LIST-STATUS', 'ESEARCH', 'SEARCHRES', 'CONDSTORE', 'QRESYNC', 'QUOTA', 'QUOTA=RES-STORAGE',
      `APPENDLIMIT=${this.config.imap.appendLimit}`, 'UTF8=ACCEPT', 'BINARY', 'STATUS=SIZE'
    );
    if (!this.compressed) caps.push('COMPRESS=DEFLATE');
    return caps;
  }

  // ---- output -------------------------------------------------------------------------------------------

  write(data: string | Buffer): void {
    if (this.closed) return;
    const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (this.deflate) {
      this.deflate.write(buf);
      this.deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    } else this.socket.write(buf);
  }

  /** Waits until buffered output drained (large FETCH responses; before each command). */
  async drain(): Promise<void> {
    // the deflate stream first: replies pile up there when commands run faster than zlib (a COMPRESS bomb of NOOPs)
    for (const stream of [this.deflate, this.socket] as Array<Writable | null>) {
      if (this.closed || !stream?.writableNeedDrain) continue;
      await new Promise<void>((resolve) => {
        const done = () => {
          stream.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        stream.once('drain', done);
        this.socket.once('close', done);
      });
    }
  }

  // ---- input --------------------------------------------------------------------------------------------

  /** removes this session's handlers from its socket (before a TLS upgrade) */
  private detach: () => void = () => undefined;

  private attach(socket: net.Socket | tls.TLSSocket): void {
    this.detach = attachSession(socket, {
      data: (chunk) => {
        if (this.inflate) this.inflate.write(chunk);
        else this.input(chunk);
      },
      error: (err) => this.log.debug({ err }, 'socket error'),
      close: () => this.onClose()
    });
  }

  private input(chunk: Buffer): void {
    if (this.closed) return; // inflated bytes still arriving after BYE (a compression bomb) go nowhere
    this.resetIdleTimer();
    let events: ParserEvent[];
    try {
      events = this.parser.push(chunk);
    } catch (err) {
      this.log.error({ err }, 'parser failure');
      this.bye('Internal parser error');
      return;
    }
    for (const event of events) {
      if (event.kind === 'continue') {
        this.write('+ Ready for literal data\r\n');
      } else if (event.kind === 'line' && this.lineWaiter) {
        const waiter = this.lineWaiter;
        this.lineWaiter = null;
        waiter(event.line);
      } else {
        this.queue.push(event);
      }
    }
    if (this.queue.length > MAX_QUEUED) {
      this.socket.pause();
      // one compressed chunk can inflate to millions of pipelined commands (COMPRESS bomb): stop inflating too
      this.inflate?.pause();
    }
    void this.process();
  }

  /** Reads one raw line from the client (IDLE's DONE, SASL responses); null when the connection closed. */
  readLine(): Promise<Buffer | null> {
    return new Promise((resolve) => {
      // a line the client sent ahead (pipelined) is already queued
      const index = this.queue.findIndex((e) => e.kind === 'line');
      if (index >= 0) {
        const [event] = this.queue.splice(index, 1);
        resolve((event as { kind: 'line'; line: Buffer }).line);
        return;
      }
      this.lineWaiter = resolve;
    });
  }

  set rawMode(on: boolean) {
    this.parser.rawMode = on;
  }

  /** After login literals may be as large as APPENDLIMIT (commands pipelined behind LOGIN were read with the small limits). */
  raiseParserLimits(): void {
    this.parser.limits = parserLimits(this.config.imap.appendLimit);
  }

  private async process(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.queue.length && !this.closed && !this.stopping) {
        const event = this.queue.shift()!;
        if (this.queue.length < MAX_QUEUED / 2 && this.socket.isPaused()) this.socket.resume();
        if (this.queue.length < MAX_QUEUED / 2 && this.inflate?.isPaused()) this.inflate.resume();
        if (event.kind === 'command') {
          // replies the client does not read are not produced ahead without bound (pipelining backpressure)
          await this.drain();
          if (!this.closed && !this.stopping) {
            this.running = this.run(event.command);
            await this.running;
            this.running = null;
          }
        } else if (event.kind === 'error') {
          this.write(`${event.tag ?? '*'} BAD ${event.message}\r\n`);
          if (event.fatal) this.bye(event.message);
          else this.countBad();
        } else if (event.kind === 'line') {
          // a raw line nobody waited for: re-read it as a command
          this.parser.rawMode = false;
          this.queue.unshift(...this.parser.push(Buffer.concat([event.line, Buffer.from('\r\n')])));
        }
      }
    } finally {
      this.processing = false;
    }
  }

  private countBad(): void {
    if (++this.badCommands >= MAX_BAD_COMMANDS) this.bye('Too many invalid commands');
  }

  private async run(command: ImapCommand): Promise<void> {
    const spec = this.commands.get(command.name);
    const tag = command.tag;
    if (!spec) {
      this.write(`${tag} BAD Unknown command ${command.name.slice(0, 40).replace(/[^\x21-\x7e]/g, '?')}\r\n`);
      this.countBad();
      return;
    }
    if (!spec.states.includes(this.state)) {
      this.write(`${tag} BAD ${command.name} is not valid in this state\r\n`);
      this.countBad();
      return;
    }
    try {
      const result = (await spec.handler(this, command)) ?? {};
      if (this.closed || result.sent) return;
      await this.flushUpdates(!spec.holdsExpunge);
      const code = result.code ? `[${result.code}] ` : '';
      this.write(`${tag} OK ${code}${result.text ?? `${command.name} completed`}\r\n`);
      this.badCommands = 0;
    } catch (err) {
      if (this.closed) return;
      if (err instanceof ImapError) {
        if (err.status === 'BYE') {
          this.bye(err.message);
          return;
        }
        await this.flushUpdates(!spec.holdsExpunge).catch(() => undefined);
        this.write(`${tag} ${err.status} ${err.code ? `[${err.code}] ` : ''}${err.message}\r\n`);
        if (err.status === 'BAD') this.countBad();
        this.log.info({ command: command.name, status: err.status, code: err.code }, err.message);
      } else {
        this.log.error({ err, command: command.name }, 'command failed');
        this.write(`${tag} NO [SERVERBUG] Internal error, try again\r\n`);
      }
    }
  }

  // ---- updates from other sessions and deliveries ---------------------------------------------------------

  /** Called after login: changes in this account's folders reach the session from now on. */
  watchAccount(accountId: number): void {
    this.unsubscribe?.();
    this.unsubscribe = this.ctx.services.notifier.subscribe(accountId, (change) => this.onChange(change));
  }

  private onChange(change: MailboxChange): void {
    if (change.kind === 'account') {
      this.bye('Account closed by the administrator');
      return;
    }
    const selected = this.selected;
    if (!selected || change.mailboxId !== selected.mailbox.id || change.origin === this.id) return;
    selected.dirty = true;
    if (this.idling) this.flushUpdates(true).catch((err) => this.log.error({ err }, 'IDLE update failed'));
  }

  /**
   * Writes pending untagged updates for the selected mailbox, one catch-up at a time: the notifications of a
   * group commit arrive together, and catch-ups running side by side would each append the same new UIDs.
   */
  flushUpdates(allowExpunge: boolean): Promise<void> {
    const run = this.flushing.then(() => this.catchUp(allowExpunge));
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private flushing: Promise<void> = Promise.resolve();

  private async catchUp(allowExpunge: boolean): Promise<void> {
    if (!this.selected) return;
    const lines = await this.selected.reconcile(this.ctx.services.db, {
      allowExpunge,
      qresync: this.enabled.has('QRESYNC'),
      condstore: this.condstore
    });
    // a selected folder deleted by another session cannot go on: its messages are gone (as Dovecot does, BYE)
    if (lines === null) this.bye('Selected mailbox was deleted by another session');
    else if (lines.length) this.write(lines.join('\r\n') + '\r\n');
  }

  /** Tells other sessions about a change this session made (they reconcile; this one already answered). */
  publish(change: Omit<MailboxChange, 'origin' | 'accountId'>): void {
    if (!this.account) return;
    this.ctx.services.notifier.publish({ ...change, accountId: this.account.id, origin: this.id });
  }

  // ---- stream upgrades ----------------------------------------------------------------------------------

  /** STARTTLS (RFC 9051 §6.2.1): the tagged OK goes out in clear, then the handshake; any read-ahead is discarded. */
  async startTls(): Promise<void> {
    const plain = this.socket as net.Socket;
    const { socket: secure, ready } = upgradeToTls(plain, this.ctx.services.tls, this.detach);
    this.socket = secure;
    this.secure = true;
    this.parser = new CommandParser(parserLimits(this.config.imap.appendLimit, false), { literalPlus: true });
    this.queue.length = 0;
    this.attach(secure);
    await ready;
  }

  /** COMPRESS=DEFLATE (RFC 4978): everything after the tagged OK is raw deflate in both directions. */
  startCompression(): void {
    this.compressed = true;
    // a compressed-stream bomb is bounded by the parser limits on what the inflated bytes may contain
    this.inflate = zlib.createInflateRaw({ chunkSize: 64 * 1024 });
    this.inflate.on('data', (chunk: Buffer) => this.input(chunk));
    this.inflate.on('error', () => this.bye('Invalid compressed data'));
    this.deflate = zlib.createDeflateRaw({ level: 6 });
    this.deflate.on('data', (chunk: Buffer) => this.socket.write(chunk));
  }

  // ---- ending -------------------------------------------------------------------------------------------

  private resetIdleTimer(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = setTimeout(() => this.bye('Autologout; idle for too long'), this.config.imap.idleTimeout * 1000);
      this.idleTimer.unref();
    }
  }

  /**
   * Ends the session because the server stops: a command in progress (other than IDLE, which BYE ends) first gets
   * its tagged reply, waiting at most `graceMs`; commands pipelined behind it are not started.
   */
  async shutdown(text: string, graceMs: number): Promise<void> {
    this.stopping = true;
    if (this.running && !this.idling) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.running, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
      clearTimeout(timer);
    }
    this.bye(text);
  }

  bye(text: string): void {
    if (this.closed) return;
    this.write(`* BYE ${text}\r\n`);
    this.end();
  }

  end(): void {
    if (this.closed) return;
    this.state = 'logout';
    if (this.deflate) this.deflate.end(() => this.socket.end());
    else this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.onClose();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.state = 'logout';
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.unsubscribe?.();
    this.lineWaiter?.(null);
    this.lineWaiter = null;
    this.inflate?.destroy();
    this.ctx.sessions.delete(this);
  }

  get isClosed(): boolean {
    return this.closed;
  }
}
