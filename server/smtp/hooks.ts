// The plugin hooks of an SMTP listener (MX and submission): the connection and transaction objects plugins see,
// one call per SMTP stage, and the translation of plugin results into replies from the table (STYLE.md §5, §6).
import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { Logger } from '../log/logger.js';
import type { HookArgs, HookName, PluginConnection, PluginTransaction, TransactionAuthentication } from '../plugins/hooks.js';
import type { PluginHost } from '../plugins/host.js';
import { CONTINUE, formatTrace, replyText, type HookRecord, type Outcome } from '../plugins/results.js';
import type { HeaderField } from '../store/mime.js';
import { fieldName, headerEnd, headerFields, headerLine, newQueueId } from './headers.js';
import { REPLIES, SmtpError, smtpError, type ReplyName } from './replies.js';
import type { SpooledMessage } from './spool.js';

type Listener = PluginConnection['listener'];
type MessageSource = Pick<SpooledMessage, 'size' | 'head' | 'read' | 'stream'>;

class Connection implements PluginConnection {
  readonly notes: Record<string, unknown> = {};
  readonly results: HookRecord[] = [];

  constructor(
    private readonly session: SMTPServerSession,
    readonly listener: Listener,
    private readonly userOf: (session: SMTPServerSession) => string | null
  ) {}

  get id() {
    return this.session.id;
  }
  get remoteAddress() {
    return this.session.remoteAddress;
  }
  get remotePort() {
    return this.session.remotePort;
  }
  get reverseName() {
    const name = this.session.clientHostname;
    return name && name !== `[${this.session.remoteAddress}]` ? name : '';
  }
  get helo() {
    return this.session.hostNameAppearsAs || '';
  }
  get secure() {
    return this.session.secure;
  }
  get user() {
    return this.userOf(this.session);
  }
  get relaying() {
    return this.user !== null;
  }
}

const notYet = (what: string): never => {
  throw new Error(`transaction.${what} is there from the data_post hook on`);
};

export class Transaction implements PluginTransaction {
  readonly id = newQueueId();
  readonly notes: Record<string, unknown> = {};
  readonly results: HookRecord[] = [];
  readonly rcptTo: string[] = [];
  folder: 'INBOX' | 'Junk' = 'INBOX';
  authentication: TransactionAuthentication | null = null;
  private source: MessageSource | null = null;
  private fields: HeaderField[] | null = null;
  private readonly added: string[] = [];
  private readonly dropped = new Set<string>();

  constructor(readonly mailFrom: string) {}

  get size() {
    return this.source ? this.source.size : notYet('size');
  }
  get headers(): readonly HeaderField[] {
    if (!this.source) return notYet('headers');
    if (!this.fields) {
      const end = headerEnd(this.source.head);
      this.fields = headerFields(end < 0 ? this.source.head : this.source.head.subarray(0, end - 2));
    }
    return this.fields;
  }
  header(name: string): string[] {
    const key = name.toLowerCase();
    return this.headers.filter((f) => f.key === key).map((f) => f.value);
  }
  message() {
    return this.source ? this.source.stream() : notYet('message()');
  }
  raw() {
    return this.source ? this.source.read() : notYet('raw()');
  }
  addHeader(name: string, value: string): void {
    this.added.push(headerLine(name, value));
  }
  removeHeader(name: string): void {
    this.dropped.add(name.toLowerCase());
  }

  /** From data_post on, the message as received. */
  attach(source: MessageSource): void {
    this.source = source;
  }
  /** The header lines plugins added, in the order they added them. */
  addedHeaders(): Buffer {
    return Buffer.from(this.added.join(''), 'latin1');
  }
  /** Whether a field the sender wrote goes (a plugin removed its name). */
  drops(field: string): boolean {
    return this.dropped.size > 0 && this.dropped.has(fieldName(field));
  }
}

/** The reply to a result that refuses (null for continue and ok): the plugin's text, else the table's. */
export function refusalFor(hook: HookName, outcome: Outcome): SmtpError | null {
  if (outcome.result === 'continue' || outcome.result === 'ok') return null;
  const greeting = hook === 'connect';
  if (outcome.result === 'fault') return smtpError(greeting ? 'localErrorGreeting' : 'localError');
  const name: ReplyName =
    outcome.result === 'deny' ? (greeting ? 'pluginDenyGreeting' : 'pluginDeny') : outcome.result === 'denysoft' ? (greeting ? 'pluginDenySoftGreeting' : 'pluginDenySoft') : greeting ? 'pluginDenyGreeting' : 'pluginDisconnect';
  const reply = REPLIES[name];
  // at the greeting only 554 and 421 are replies (RFC 5321 §3.1, §4.3.2); deny_disconnect must stay 421 to close
  const custom = !greeting && outcome.result !== 'deny_disconnect';
  const text = outcome.message ? replyText(outcome.message) : '';
  return new SmtpError({
    code: custom && outcome.code ? outcome.code : reply.code,
    enhanced: custom && outcome.enhanced ? outcome.enhanced : reply.enhanced,
    text: text || reply.text
  });
}

export class SmtpHooks {
  private readonly connections = new Map<string, Connection>();
  /** keyed by the envelope object smtp-server renews for every transaction */
  private readonly transactions = new WeakMap<object, Transaction>();

  constructor(
    private readonly host: PluginHost,
    private readonly listener: Listener,
    private readonly logFor: (session: SMTPServerSession) => Logger,
    private readonly userOf: (session: SMTPServerSession) => string | null = () => null
  ) {}

  connection(session: SMTPServerSession): Connection {
    let connection = this.connections.get(session.id);
    if (!connection) {
      connection = new Connection(session, this.listener, this.userOf);
      this.connections.set(session.id, connection);
    }
    return connection;
  }

  /** The current transaction (there is one from MAIL FROM on). */
  transaction(session: SMTPServerSession): Transaction {
    const transaction = this.transactions.get(session.envelope);
    if (!transaction) throw new Error('no transaction before MAIL FROM');
    return transaction;
  }

  connect(session: SMTPServerSession): Promise<Outcome> {
    return this.decide(session, 'connect', { connection: this.connection(session) }, this.connection(session).results);
  }

  helo(session: SMTPServerSession, name: string): Promise<Outcome> {
    return this.decide(session, 'helo', { connection: this.connection(session), helo: name }, this.connection(session).results);
  }

  /** Starts the transaction (its id is the queue id) and runs the mail hook. */
  mail(session: SMTPServerSession, address: SMTPServerAddress): Promise<Outcome> {
    const transaction = new Transaction(address.address);
    this.transactions.set(session.envelope, transaction);
    return this.decide(session, 'mail', { ...this.stage(session), address: address.address, params: paramsOf(address) }, transaction.results);
  }

  /** Runs the rcpt hook for a recipient routing accepted; it becomes part of the transaction unless refused. */
  async rcpt(session: SMTPServerSession, address: SMTPServerAddress): Promise<Outcome> {
    const transaction = this.transaction(session);
    const outcome = await this.decide(session, 'rcpt', { ...this.stage(session), address: address.address, params: paramsOf(address) }, transaction.results);
    transaction.rcptTo.push(address.address);
    return outcome;
  }

  data(session: SMTPServerSession): Promise<Outcome> {
    return this.decide(session, 'data', this.stage(session), this.transaction(session).results);
  }

  /** data_post: the message (and, on the MX, its authentication results) is now there. */
  dataPost(session: SMTPServerSession, message: MessageSource, authentication: TransactionAuthentication | null): Promise<Outcome> {
    const transaction = this.transaction(session);
    transaction.attach(message);
    transaction.authentication = authentication;
    return this.decide(session, 'data_post', this.stage(session), transaction.results);
  }

  /** queue, just before storing: the reply text when a plugin took the message (`ok`), else null. */
  async queue(session: SMTPServerSession): Promise<string | null> {
    const transaction = this.transaction(session);
    const outcome = await this.decide(session, 'queue', this.stage(session), transaction.results);
    if (outcome.result !== 'ok') return null;
    const accepted = REPLIES.acceptedByPlugin;
    return `${accepted.enhanced} ${accepted.text} ${transaction.id} by ${outcome.plugin}${outcome.message ? ` (${replyText(outcome.message)})` : ''}`;
  }

  /** The results worth recording for this transaction, as one line (Received comment, log line). */
  trace(session: SMTPServerSession): string {
    const connection = this.connections.get(session.id);
    return formatTrace([...(connection?.results ?? []), ...(this.transactions.get(session.envelope)?.results ?? [])]);
  }

  /** The connection is gone: the disconnect notification, then its state is dropped. */
  closed(session: SMTPServerSession): void {
    const connection = this.connections.get(session.id);
    this.connections.delete(session.id);
    if (connection) this.host.notify('disconnect', { connection }, this.logFor(session));
  }

  private stage(session: SMTPServerSession) {
    return { connection: this.connection(session), transaction: this.transaction(session) };
  }

  /** Runs a decision hook and throws the reply when the outcome refuses. */
  private async decide<H extends HookName>(session: SMTPServerSession, hook: H, args: HookArgs[H], trace: HookRecord[]): Promise<Outcome> {
    if (!this.host.has(hook)) return CONTINUE;
    const log = this.logFor(session);
    const outcome = await this.host.run(hook, args, trace, log);
    const refusal = refusalFor(hook, outcome);
    if (refusal) {
      log.info({ hook, plugin: 'plugin' in outcome ? outcome.plugin : undefined, result: outcome.result, reply: `${refusal.responseCode} ${refusal.message}` }, 'refused by plugin');
      throw refusal;
    }
    return outcome;
  }
}

function paramsOf(address: SMTPServerAddress): Record<string, string> {
  const args = address.args as Record<string, string | boolean> | false | undefined;
  if (!args) return {};
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v === true ? '' : String(v)]));
}
