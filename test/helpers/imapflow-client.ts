// A logged-in imapflow client for tests: plain connection on loopback unless the options say otherwise, no auto-IDLE
// (each test says when a session idles), collected in `open` so the test can log every client out.
import { ImapFlow, type ImapFlowOptions } from 'imapflow';
import { PASSWORD } from './server.js';

export async function connectImapFlow(port: number, user: string, open: ImapFlow[], options: Partial<ImapFlowOptions> = {}): Promise<ImapFlow> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass: PASSWORD },
    logger: false,
    tls: { rejectUnauthorized: false },
    disableAutoIdle: true,
    ...options
  });
  client.on('error', () => undefined);
  open.push(client);
  await client.connect();
  return client;
}
