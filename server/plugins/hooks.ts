// The closed list of plugin hook names (STYLE.md §6) and what each hook is given: the connection, the transaction
// and the hook's own arguments, in SMTP order (RFC 5321 §3), then the outbound notifications.
import type { Readable } from 'node:stream';
import type { Logger } from '../log/logger.js';
import type { HeaderField } from '../store/mime.js';
import type { HookRecord, HookReturn } from './results.js';

/** Every hook a plugin may register, in the order a message meets them. Anything else throws at registration. */
export const HOOK_NAMES = ['connect', 'helo', 'mail', 'rcpt', 'data', 'data_post', 'queue', 'delivered', 'deferred', 'bounced', 'disconnect'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** Hooks that tell plugins what happened: every registered function runs and their results are only logged. */
export const NOTIFICATION_HOOKS: ReadonlySet<HookName> = new Set(['delivered', 'deferred', 'bounced', 'disconnect']);

export const isHookName = (name: string): name is HookName => (HOOK_NAMES as readonly string[]).includes(name);

/** One SMTP connection as plugins see it; `notes` is shared by all hooks of all plugins for this connection. */
export interface PluginConnection {
  /** the session id, `cid` in the log */
  readonly id: string;
  /** which listener took the connection: the MX (port 25) or submission (587/465) */
  readonly listener: 'mx' | 'submission';
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** the client's name from reverse DNS, '' when it has none */
  readonly reverseName: string;
  /** what the client said in HELO/EHLO, '' before it did */
  readonly helo: string;
  /** TLS is on (STARTTLS or implicit) */
  readonly secure: boolean;
  /** an authenticated submission client: Postfach relays its mail to any domain (Haraka's connection.relaying) */
  readonly relaying: boolean;
  /** the authenticated account address, null on the MX and before AUTH */
  readonly user: string | null;
  readonly notes: Record<string, unknown>;
  /** results recorded by connect and helo hooks */
  readonly results: HookRecord[];
}

/** The mail authentication results of an MX transaction (data_post and queue). */
export interface TransactionAuthentication {
  spf: string;
  dkim: string;
  dmarc: string;
  arc: string;
}

/** One mail transaction (MAIL FROM to the end of DATA); a new one starts with every MAIL FROM. */
export interface PluginTransaction {
  /** the queue id: in the 250 reply, the Received header and the log */
  readonly id: string;
  /** the envelope sender, '' for the null sender */
  readonly mailFrom: string;
  /** the recipients accepted so far */
  readonly rcptTo: readonly string[];
  readonly notes: Record<string, unknown>;
  /** results recorded by the transaction's hooks */
  readonly results: HookRecord[];
  /** data_post and queue: the size of the message as received, in bytes */
  readonly size: number;
  /** data_post and queue: the header fields of the message as received (values unfolded, not decoded) */
  readonly headers: readonly HeaderField[];
  /** data_post and queue (MX only): SPF, DKIM, DMARC and ARC results; null on submission */
  readonly authentication: TransactionAuthentication | null;
  /** data_post and queue: the values of one header field (name in any case) */
  header(name: string): string[];
  /** data_post and queue: the message as received, as a stream */
  message(): Readable;
  /** data_post and queue: the message as received, in memory */
  raw(): Promise<Buffer>;
  /** adds a header field at the top of the stored message (folded when long) */
  addHeader(name: string, value: string): void;
  /** drops every field of this name the sender wrote (e.g. a forged X-Spam-Status) */
  removeHeader(name: string): void;
  /** where MX deliveries to local mailboxes go: INBOX (default) or Junk */
  folder: 'INBOX' | 'Junk';
}

/** One delivery attempt to one recipient by the outbound queue. */
export interface DeliveryReport {
  entryId: number;
  origin: string;
  sender: string;
  recipient: string;
  status: 'delivered' | 'deferred' | 'failed';
  /** the remote server's reply, or Postfach's reason */
  reply: string;
  remoteMta: string | null;
  /** 1 for the first attempt */
  attempt: number;
}

interface Session {
  connection: PluginConnection;
}
interface Transaction extends Session {
  transaction: PluginTransaction;
}

/** The arguments of each hook. */
export interface HookArgs {
  connect: Session;
  helo: Session & { helo: string };
  mail: Transaction & { address: string; params: Record<string, string> };
  rcpt: Transaction & { address: string; params: Record<string, string> };
  data: Transaction;
  data_post: Transaction;
  queue: Transaction;
  delivered: { delivery: DeliveryReport };
  deferred: { delivery: DeliveryReport };
  bounced: { delivery: DeliveryReport };
  disconnect: Session;
}

/** What a hook function receives: its arguments plus its plugin's logger and a signal that fires at its timeout. */
export type HookContext<H extends HookName> = HookArgs[H] & {
  hook: H;
  plugin: string;
  log: Logger;
  signal: AbortSignal;
};

export type HookFunction<H extends HookName> = (context: HookContext<H>) => HookReturn | Promise<HookReturn>;

export interface HookOptions {
  /** -100..100, lower runs first; equal priorities run in the order plugins were loaded (default 0) */
  priority?: number;
  /** milliseconds before this hook counts as failed; default plugins.<name>.timeout */
  timeout?: number;
}
