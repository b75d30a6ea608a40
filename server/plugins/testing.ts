// The plugin test harness (README "Writing a plugin"): starts a real Postfach on 127.0.0.1 with a temp data folder,
// the given plugins and settings and a hosted domain with accounts, sends messages over a real SMTP connection and
// returns every reply, and reads back what was stored. For plugin authors' tests as much as for Postfach's own.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { build, type App, type Listening } from '../app.js';
import { loadConfig } from '../config/load.js';
import { addAccount, requireAccount } from '../directory/accounts.js';
import { createApiToken } from '../directory/api-tokens.js';
import { addDomain } from '../directory/domains.js';
import { createLogger, type Logger } from '../log/logger.js';
import { listMailboxes } from '../store/mailboxes.js';
import { listMessages } from '../store/messages.js';
import type { PostfachPlugin } from './define.js';

/** The password of every account the harness creates. */
export const HARNESS_PASSWORD = 'Harness-Passw0rd!';
export const HARNESS_HOSTNAME = 'mx.harness.test';

export interface HarnessOptions {
  /** plugins in load order: bundled names, paths, package names, or plugin functions */
  plugins: ReadonlyArray<string | PostfachPlugin>;
  /** config by dotted key; plugin settings as `plugins.<name>.<key>` */
  settings?: Record<string, unknown>;
  /** the hosted domain (default example.test) and its accounts' local parts (default info) */
  domain?: string;
  accounts?: string[];
  /** DNS servers as host:port; default a closed loopback port, so no lookup leaves the machine (SPF etc. fail fast) */
  dnsServers?: string[];
  /** also start submission with implicit TLS (for `send({ auth })`) and the admin HTTP API */
  submission?: boolean;
  http?: boolean;
  /** the clock plugins see as `fastify.postfach.now()` */
  now?: () => number;
  /** default: silent (or the level in POSTFACH_TEST_LOG) */
  logger?: Logger;
}

export interface SendOptions {
  /** envelope sender, default sender@sender.test ('' for the null sender) */
  from?: string;
  to: string[];
  /** the message; default a short plain-text one from `from` to the first recipient */
  message?: string | Buffer;
  /** default client.sender.test */
  helo?: string;
  /** connect from this loopback address (127.0.0.2 and so on) instead of 127.0.0.1 */
  localAddress?: string;
  /** log in (AUTH PLAIN, password HARNESS_PASSWORD unless given) on the submission port instead of using the MX */
  auth?: { user: string; password?: string };
}

/** Every reply of one SMTP session, each as its last line (`550 5.7.1 …`); absent where the session stopped before. */
export interface Transcript {
  greeting: string;
  ehlo?: string;
  auth?: string;
  mail?: string;
  rcpt: string[];
  data?: string;
  /** the reply to the end of the message */
  message?: string;
  /** the message reply was 250 */
  accepted: boolean;
  /** the server closed the connection before QUIT */
  closed: boolean;
}

export interface StoredMail {
  folder: string;
  raw: string;
  /** the value of the first header field of that name */
  header(name: string): string | undefined;
}

export interface Harness {
  app: App;
  ports: Listening;
  domain: string;
  send(options: SendOptions): Promise<Transcript>;
  /** the messages stored for an account, oldest first, all folders */
  messages(address: string): Promise<StoredMail[]>;
  /** an admin API request (start with http: true) with an API token of that role (default owner), or none (null); JSON bodies parsed */
  api(path: string, options?: { method?: string; body?: unknown; role?: 'owner' | 'admin' | null }): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

class ConnectionClosed extends Error {}

/** One SMTP client connection: commands out, complete replies (RFC 5321 §4.2.1 multi-line) back. */
class Dialogue {
  private buffer = '';
  private waiter: (() => void) | null = null;
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number, options: { secure: boolean; localAddress?: string }): Promise<Dialogue> {
    return new Promise((resolve, reject) => {
      const raw = net.connect({ port, host: '127.0.0.1', localAddress: options.localAddress });
      // the harness's certificate is the self-signed one Postfach generates
      const socket = options.secure ? tls.connect({ socket: raw, rejectUnauthorized: false }) : raw;
      socket.once(options.secure ? 'secureConnect' : 'connect', () => resolve(new Dialogue(socket)));
      socket.once('error', reject);
    });
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  async reply(timeoutMs = 10_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\r\n]*\r\n)*(\d{3}(?: [^\r\n]*)?)\r\n/.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m[0].length);
        return m[1];
      }
      if (this.closed) throw new ConnectionClosed();
      if (Date.now() >= deadline) throw new Error(`no SMTP reply within ${timeoutMs} ms (got ${JSON.stringify(this.buffer)})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  async command(line: string): Promise<string> {
    if (!this.closed) this.socket.write(line + '\r\n');
    return this.reply();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const ok = (reply: string | undefined, code = '250') => reply?.startsWith(code) ?? false;

function defaultMessage(from: string, to: string): string {
  const id = `${Date.now().toString(36)}.${Math.random().toString(36).slice(2)}@harness.test`;
  return [`From: <${from || 'mailer-daemon@sender.test'}>`, `To: <${to}>`, 'Subject: Harness message', `Date: ${new Date().toUTCString()}`, `Message-ID: <${id}>`, '', 'Hello from the plugin harness.', ''].join('\r\n');
}

/** RFC 5321 §4.5.2: a line starting with "." gets another one; the message ends in CRLF. */
function dotStuffed(message: string | Buffer): string {
  const text = (Buffer.isBuffer(message) ? message.toString('latin1') : message).replace(/\r?\n/g, '\r\n');
  return (text.endsWith('\r\n') ? text : text + '\r\n').replace(/^\./gm, '..');
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'postfach-plugin-harness-'));
  const domain = options.domain ?? 'example.test';
  let app: App | undefined;
  try {
    const config = loadConfig({
      env: {},
      overrides: {
        hostname: HARNESS_HOSTNAME,
        dataDir,
        bind: '127.0.0.1',
        'smtp.port': 0,
        'submission.port': -1,
        'submissions.port': options.submission ? 0 : -1,
        'imap.port': -1,
        'imaps.port': -1,
        'pop3.port': -1,
        'pop3s.port': -1,
        'http.port': options.http ? 0 : -1,
        'dns.servers': options.dnsServers ?? ['127.0.0.1:9'],
        'dns.timeout': 1000,
        ...options.settings
      }
    });
    const logger = options.logger ?? createLogger(process.env.POSTFACH_TEST_LOG ?? 'silent');
    app = await build(config, { logger, plugins: { list: options.plugins, now: options.now } });
    const { db, accounts } = app.services;
    const actor = { name: 'plugin-harness' };
    await addDomain(db, actor, domain);
    for (const local of options.accounts ?? ['info']) await addAccount(accounts, actor, { address: `${local}@${domain}`, password: HARNESS_PASSWORD });
    const ports = await app.listen();
    const running = app;
    const tokens = new Map<string, Promise<string>>();
    const tokenFor = (role: 'owner' | 'admin') => {
      if (!tokens.has(role)) tokens.set(role, createApiToken(db, actor, { name: `harness-${role}`, role, createdBy: null }).then((t) => t.token));
      return tokens.get(role)!;
    };
    return {
      app: running,
      ports,
      domain,
      send: (send) => sendMail(ports, send),
      messages: (address) => storedMail(running, address),
      async api(path, request = {}) {
        if (ports.http === undefined) throw new Error('start the harness with http: true to use the admin API');
        const role = request.role === undefined ? 'owner' : request.role;
        const headers: Record<string, string> = role ? { authorization: `Bearer ${await tokenFor(role)}` } : {};
        if (request.body !== undefined) headers['content-type'] = 'application/json';
        const response = await fetch(`http://127.0.0.1:${ports.http}${path}`, { method: request.method ?? 'GET', headers, body: request.body === undefined ? undefined : JSON.stringify(request.body) });
        const text = await response.text();
        const json = (response.headers.get('content-type') ?? '').includes('json');
        return { status: response.status, body: json && text ? JSON.parse(text) : text };
      },
      async close() {
        await running.close();
        fs.rmSync(dataDir, { recursive: true, force: true });
      }
    };
  } catch (err) {
    await app?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
}

async function sendMail(ports: Listening, options: SendOptions): Promise<Transcript> {
  const port = options.auth ? ports.submissions : ports.smtp;
  if (port === undefined) throw new Error(options.auth ? 'start the harness with submission: true to send with auth' : 'the MX is not running');
  const dialogue = await Dialogue.open(port, { secure: Boolean(options.auth), localAddress: options.localAddress });
  const from = options.from ?? options.auth?.user ?? 'sender@sender.test';
  const transcript: Transcript = { greeting: '', rcpt: [], accepted: false, closed: false };
  try {
    await converse(dialogue, transcript, options, from);
    // QUIT tells a server that closed the connection (after 421, or a refused greeting) from one that did not
    transcript.closed = !(dialogue.closed ? false : ok(await dialogue.command('QUIT'), '221'));
  } catch (err) {
    if (!(err instanceof ConnectionClosed)) throw err;
    transcript.closed = true;
  } finally {
    dialogue.destroy();
  }
  return transcript;
}

/** The SMTP dialogue up to the end of the message, or up to the first reply that ends it. */
async function converse(dialogue: Dialogue, transcript: Transcript, options: SendOptions, from: string): Promise<void> {
  transcript.greeting = await dialogue.reply();
  if (!ok(transcript.greeting, '220')) return;
  transcript.ehlo = await dialogue.command(`EHLO ${options.helo ?? 'client.sender.test'}`);
  if (!ok(transcript.ehlo)) return;
  if (options.auth) {
    const credentials = Buffer.from(`\0${options.auth.user}\0${options.auth.password ?? HARNESS_PASSWORD}`).toString('base64');
    transcript.auth = await dialogue.command(`AUTH PLAIN ${credentials}`);
    if (!ok(transcript.auth, '235')) return;
  }
  transcript.mail = await dialogue.command(`MAIL FROM:<${from}>`);
  if (!ok(transcript.mail)) return;
  for (const to of options.to) transcript.rcpt.push(await dialogue.command(`RCPT TO:<${to}>`));
  if (!transcript.rcpt.some((r) => ok(r))) return;
  transcript.data = await dialogue.command('DATA');
  if (!ok(transcript.data, '354')) return;
  transcript.message = await dialogue.command(dotStuffed(options.message ?? defaultMessage(from, options.to[0])) + '.');
  transcript.accepted = ok(transcript.message);
}

async function storedMail(app: App, address: string): Promise<StoredMail[]> {
  const { db, blobs } = app.services;
  const account = await requireAccount(db, address);
  const mail: Array<StoredMail & { id: number }> = [];
  for (const mailbox of await listMailboxes(db, account.id)) {
    for (const message of await listMessages(db, account.id, mailbox.name)) {
      const raw = (await blobs.read(message.blob_id)).toString('latin1');
      const head = raw.slice(0, raw.indexOf('\r\n\r\n') + 2);
      const field = (name: string) => new RegExp(`^${name.replace(/[^A-Za-z0-9]/g, '\\$&')}:[ \\t]*(.*(?:\\r\\n[ \\t].*)*)`, 'im').exec(head)?.[1].replace(/\r\n[ \t]+/g, ' ');
      mail.push({ id: message.id, folder: mailbox.name, raw, header: field });
    }
  }
  return mail.sort((a, b) => a.id - b.id).map(({ id: _id, ...stored }) => stored);
}
