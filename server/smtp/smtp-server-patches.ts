// Three corrections to smtp-server, installed once for every listener:
// - it derives enhanced status codes (RFC 2034) from the reply code alone (every 550 becomes 5.1.1); Postfach's reply
//   table carries the right one for each case, so a reply text that already starts with an enhanced code is sent as is;
// - it lists AUTH in EHLO before STARTTLS even where AUTH is refused until then; RFC 4954 §4 and RFC 3207 §4.2 say a
//   mechanism that is not usable yet is not advertised, so clients do not try to send credentials in the clear;
// - its close() answers 421 to the next command of every session, cutting off a transaction between MAIL and DATA;
//   a draining server (startDraining) lets a transaction in progress finish and sends 421 when it ends.
import type { SMTPServer } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { REPLIES } from './replies.js';

const ENHANCED = /^[245]\.\d{1,3}\.\d{1,3} /;
let installed = false;

interface ConnectionInternals {
  send(code: number, data: unknown, context?: unknown): void;
  handler_EHLO(command: Buffer, callback: () => void): void;
  _isSupported(command: string): boolean;
  secure: boolean;
  _server: { options: { allowInsecureAuth?: boolean } };
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
  proto.handler_EHLO = function (this: ConnectionInternals, command: Buffer, callback: () => void) {
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
  const isSupported = proto._isSupported;
  proto._isSupported = function (this: ConnectionInternals, command: string) {
    if (command === 'AUTH' && this._inEhlo && !this.secure && !this._server.options.allowInsecureAuth) return false;
    return isSupported.call(this, command);
  };
}
