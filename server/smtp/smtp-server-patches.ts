// Corrections to smtp-server, installed once for every listener:
// - it derives enhanced status codes (RFC 2034) from the reply code alone (every 550 becomes 5.1.1); Postfach's reply
//   table carries the right one for each case, so a reply text that already starts with an enhanced code is sent as is;
// - it lists AUTH in EHLO before STARTTLS even where AUTH is refused until then; RFC 4954 §4 and RFC 3207 §4.2 say a
//   mechanism that is not usable yet is not advertised, so clients do not try to send credentials in the clear;
// - its close() answers 421 to the next command of every session, cutting off a transaction between MAIL and DATA;
//   a draining server (startDraining) lets a transaction in progress finish and sends 421 when it ends.
// It also has no handler for HELO/EHLO or for the DATA command before its 354; the plugin hooks `helo` and `data`
// need both, so a server may set them with setCommandHandlers().
import type { SMTPServer, SMTPServerSession } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { REPLIES } from './replies.js';

type Done = (err?: (Error & { responseCode?: number }) | null) => void;

export interface CommandHandlers {
  /** HELO/EHLO with a well-formed name, before the reply; an error is the reply instead of 250 */
  helo?(name: string, session: SMTPServerSession, done: Done): void;
  /** DATA with recipients, before the 354; an error is the reply instead */
  data?(session: SMTPServerSession, done: Done): void;
}

const handlers = new WeakMap<object, CommandHandlers>();

export function setCommandHandlers(server: SMTPServer, commandHandlers: CommandHandlers): void {
  handlers.set(server, commandHandlers);
}

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
let installed = false;

interface ConnectionInternals {
  send(code: number, data: unknown, context?: unknown): void;
  handler_EHLO(command: Buffer, callback: () => void): void;
  handler_HELO(command: Buffer, callback: () => void): void;
  handler_DATA(command: Buffer, callback: () => void): void;
  session: SMTPServerSession;
  _isSupported(command: string): boolean;
  secure: boolean;
  _server: SMTPServer & { options: { allowInsecureAuth?: boolean } };
  _inEhlo?: boolean;
  _resetSession(): void;
}

/** Servers that stop: their sessions end at the end of the current transaction. */
const draining = new WeakSet<object>();

/** RFC 5321 §3.8: the server may close with 421 when it must shut down. */
export function sendShuttingDown(connection: SMTPConnection): void {
  const reply = REPLIES.shuttingDown;
  connection.send(reply.code, `${reply.enhanced} ${reply.text}`);
}

/** Stops `server`'s sessions at the end of their transaction: idle ones now, the others once their DATA or RSET is done. */
export function startDraining(server: SMTPServer): void {
  draining.add(server);
  for (const connection of [...server.connections]) {
    const inTransaction = Boolean(connection.session?.envelope?.mailFrom) || Boolean(connection._dataStream);
    if (!inTransaction) sendShuttingDown(connection);
  }
}

export function patchSmtpServer(): void {
  if (installed) return;
  installed = true;
  const proto = SMTPConnection.prototype as unknown as ConnectionInternals;
  const send = proto.send;
  proto.send = function (this: ConnectionInternals, code: number, data: unknown, context?: unknown) {
    return send.call(this, code, data, typeof data === 'string' && ENHANCED.test(data) ? false : context);
  };
  const ehlo = proto.handler_EHLO;
  const advertise = function (this: ConnectionInternals, command: Buffer, callback: () => void) {
    this._inEhlo = true;
    try {
      return ehlo.call(this, command, callback);
    } finally {
      this._inEhlo = false;
    }
  };
  // called at connection start and when a transaction ends (after the DATA reply, RSET, EHLO/HELO, STARTTLS)
  const resetSession = proto._resetSession;
  proto._resetSession = function (this: ConnectionInternals & { _server: object }) {
    resetSession.call(this);
    if (draining.has(this._server)) sendShuttingDown(this as unknown as SMTPConnection);
  };
  const helo = (c: ConnectionInternals, command: Buffer, done: Done): boolean => {
    const handler = handlers.get(c._server)?.helo;
    const name = heloName(command);
    if (!handler || name === null) return false;
    handler(name, c.session, done);
    return true;
  };
  proto.handler_EHLO = before(helo, advertise);
  proto.handler_HELO = before(helo, proto.handler_HELO);
  proto.handler_DATA = before((c, _command, done) => {
    const handler = handlers.get(c._server)?.data;
    // without recipients smtp-server answers 503 itself
    if (!handler || !c.session.envelope.rcptTo.length) return false;
    handler(c.session, done);
    return true;
  }, proto.handler_DATA);
  const isSupported = proto._isSupported;
  proto._isSupported = function (this: ConnectionInternals, command: string) {
    if (command === 'AUTH' && this._inEhlo && !this.secure && !this._server.options.allowInsecureAuth) return false;
    return isSupported.call(this, command);
  };
}

/** The name a HELO/EHLO command gives, or null when smtp-server will refuse its syntax anyway (RFC 5321 §4.1.1.1). */
function heloName(command: Buffer): string | null {
  const parts = command.toString().trim().split(/\s+/);
  return parts.length === 2 ? parts[1] : null;
}

/**
 * Wraps a command handler so the server's own handler runs first (`invoke` calls it and returns true, or returns
 * false when there is none or it does not apply): its error is the reply and ends the command, its success lets
 * smtp-server's handler answer.
 */
function before(
  invoke: (connection: ConnectionInternals, command: Buffer, done: Done) => boolean,
  original: (this: ConnectionInternals, command: Buffer, callback: () => void) => void
) {
  return function (this: ConnectionInternals, command: Buffer, callback: () => void) {
    const done: Done = (err) => {
      if (!err) return original.call(this, command, callback);
      this.send(err.responseCode ?? 550, err.message);
      callback();
    };
    if (!invoke(this, command, done)) original.call(this, command, callback);
  };
}
