// Test helper: a remote mail server (smtp-server on 127.0.0.1) that plays another domain's MX for the outbound
// queue: records every transaction and answers RCPT/DATA as the test scripts it (e.g. 451 once, 550 always).
import { SMTPServer } from 'smtp-server';
import type { TestDnsServer } from './dns-server.js';

export interface ReceivedTransaction {
  from: string;
  to: string[];
  raw: Buffer;
  secure: boolean;
  helo: string;
  /** AUTH user name when the client logged in (smarthost tests) */
  user: string | null;
}

export interface Refusal {
  code: number;
  text: string;
}

export interface RemoteMx {
  port: number;
  received: ReceivedTransaction[];
  /** RCPT answer per recipient: null accepts */
  onRcpt: (recipient: string) => Refusal | null;
  /** DATA answer after the message arrived: null accepts */
  onData: (transaction: ReceivedTransaction) => Refusal | null;
  /** connections accepted so far (connection reuse shows as fewer connections than transactions) */
  connections: number;
  /** resolves when `count` transactions were accepted */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedTransaction[]>;
  close(): Promise<void>;
}

const refusal = (r: Refusal) => Object.assign(new Error(r.text), { responseCode: r.code });

export async function startRemoteMx(options: { tls?: { key: string; cert: string }; auth?: { user: string; pass: string }; allowInsecureAuth?: boolean } = {}): Promise<RemoteMx> {
  let waiters: Array<() => void> = [];
  const mx: RemoteMx = {
    port: 0,
    received: [],
    onRcpt: () => null,
    onData: () => null,
    connections: 0,
    async waitFor(count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while (mx.received.length < count) {
        if (Date.now() > deadline) throw new Error(`remote MX: ${mx.received.length} of ${count} messages after ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
      return mx.received.slice(0, count);
    },
    close: () => new Promise((resolve) => server.close(() => resolve()))
  };
  const server = new SMTPServer({
    name: 'mx.remote.test',
    key: options.tls?.key,
    cert: options.tls?.cert,
    disabledCommands: options.tls ? (options.auth ? [] : ['AUTH']) : options.auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !options.auth,
    allowInsecureAuth: options.allowInsecureAuth ?? false,
    logger: false,
    onConnect(_session, callback) {
      mx.connections++;
      callback();
    },
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) return callback(null, { user: auth.username });
      callback(Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const r = mx.onRcpt(address.address);
      callback(r ? refusal(r) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const transaction: ReceivedTransaction = {
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks),
          secure: session.secure,
          helo: session.hostNameAppearsAs,
          user: (session.user as string | undefined) ?? null
        };
        const r = mx.onData(transaction);
        if (r) return callback(refusal(r));
        mx.received.push(transaction);
        const w = waiters;
        waiters = [];
        w.forEach((f) => f());
        callback();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  mx.port = (server.server.address() as { port: number }).port;
  return mx;
}

/** Zone records that make `domain`'s mail go to the remote MX on loopback (the queue's remotePort names its port). */
export function routeDomainTo(dns: TestDnsServer, domain: string, host = `mx.${domain}`): void {
  dns.set(domain, [{ type: 'MX', exchange: host, priority: 10 }]);
  dns.set(host, [{ type: 'A', address: '127.0.0.1' }]);
}
