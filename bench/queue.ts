// Submission and outbound queue benchmark: N messages submitted over STARTTLS+AUTH (pooled client connections) to a
// local mailbox, then N to remote recipients delivered by the queue to a remote MX on loopback (in the same process).
import crypto from 'node:crypto';
import nodemailer from 'nodemailer';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { startRemoteMx, routeDomainTo } from '../test/helpers/remote-mx.js';
import { PASSWORD, provision, startServer } from '../test/helpers/server.js';

export interface QueueBenchOptions {
  messages: number;
  /** client connections submitting at once */
  connections: number;
  sizeKb: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function benchQueue(options: QueueBenchOptions): Promise<Record<string, number | string>> {
  const dns = await startDnsServer({});
  const remote = await startRemoteMx();
  routeDomainTo(dns, 'remote.test');
  const server = await startServer({ dns, overrides: { 'submission.port': 0, 'queue.remotePort': remote.port, 'queue.concurrency': 10 } });
  await provision(server, 'firma.de', ['info', 'buchhaltung']);
  const client = nodemailer.createTransport({
    pool: true,
    maxConnections: options.connections,
    maxMessages: Infinity,
    host: '127.0.0.1',
    port: server.ports.submission,
    requireTLS: true,
    tls: { rejectUnauthorized: false },
    auth: { user: 'info@firma.de', pass: PASSWORD }
  });
  const body = crypto.randomBytes(options.sizeKb * 768).toString('base64').replace(/.{76}/g, '$&\r\n');
  const raw = (to: string, i: number) => `From: info@firma.de\r\nTo: ${to}\r\nSubject: bench ${i}\r\n\r\n${body}\r\n`;

  const submit = async (to: string) => {
    const latencies: number[] = [];
    const t0 = process.hrtime.bigint();
    let next = 0;
    // one message in flight per client connection, so a latency is the server's, not time waiting in the client
    await Promise.all(
      Array.from({ length: options.connections }, async () => {
        while (next < options.messages) {
          const i = next++;
          const t = process.hrtime.bigint();
          await client.sendMail({ envelope: { from: 'info@firma.de', to: [to] }, raw: raw(to, i) });
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
      })
    );
    return { seconds: Number(process.hrtime.bigint() - t0) / 1e9, latencies };
  };

  const local = await submit('buchhaltung@firma.de');
  const t0 = process.hrtime.bigint();
  const outbound = await submit('kunde@remote.test');
  await remote.waitFor(options.messages, 300_000);
  const delivered = Number(process.hrtime.bigint() - t0) / 1e9;
  const result = {
    messages: options.messages,
    sizeKb: options.sizeKb,
    clientConnections: options.connections,
    submitLocalPerSec: Math.round(options.messages / local.seconds),
    submitLocalMedianMs: Math.round(median(local.latencies) * 10) / 10,
    submitRemotePerSec: Math.round(options.messages / outbound.seconds),
    deliveredPerSec: Math.round(options.messages / delivered),
    remoteConnections: remote.connections
  };
  client.close();
  await server.close();
  await remote.close();
  await dns.close();
  return result;
}
