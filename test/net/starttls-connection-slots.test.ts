// Threat: a connection slot that is never given back. The per-address and total connection limits of IMAP and POP3
// count each connection until it closes; a session upgraded with STARTTLS/STLS must still give its slot back, or a
// few phones polling over port 143/110 lock their whole office (one NAT address) out within hours.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { presentedFingerprint } from '../helpers/tls-peer.js';
import { eventually } from '../helpers/smtp-wire.js';
import { scrape } from '../helpers/metrics.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    overrides: { 'imap.port': 0, 'pop3.port': 0, 'http.port': 0, 'imap.maxConnectionsPerIp': 2, 'pop3.maxConnectionsPerIp': 2 }
  });
});
afterAll(() => server?.close());

/** The first line a new plain connection gets. */
function greeting(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end >= 0) {
        socket.destroy();
        resolve(text.slice(0, end));
      }
    });
    socket.on('error', reject);
  });
}

describe.each([
  ['imap', /^\* OK /, /^\* BYE Too many connections/],
  ['pop3', /^\+OK /, /^-ERR \[SYS\/TEMP\] Too many connections/]
] as const)('%s sessions upgraded to TLS', (service, ok, refused) => {
  it('give their connection slot back when they end, so the per-address limit is not used up', async () => {
    const port = server.ports[service]!;
    // three times the limit of upgraded sessions, one after the other
    for (let i = 0; i < 6; i++) await presentedFingerprint(port, service);
    expect(await eventually(async () => (await scrape(server.ports.http!)).value('postfach_connections_open', { service }) === 0, 5000, 50)).toBe(true);
    expect(await greeting(port)).toMatch(ok);
    // the limit itself still holds
    const held = [net.connect({ port, host: '127.0.0.1' }), net.connect({ port, host: '127.0.0.1' })];
    try {
      expect(await eventually(async () => (await scrape(server.ports.http!)).value('postfach_connections_open', { service }) === 2, 5000, 50)).toBe(true);
      expect(await greeting(port)).toMatch(refused);
    } finally {
      for (const socket of held) socket.destroy();
    }
  });
});
