// Benchmark child process: runs a Postfach MX (so the sending client does not share its event loop), provisions
// the account, prints {"port":…}, and on stdin end prints what was stored and exits.
import { provision, startServer } from '../test/helpers/server.js';

const dnsAddress = process.argv[2];
const connections = Number(process.argv[3] ?? 20);
const server = await startServer({
  dns: { address: dnsAddress } as never,
  overrides: { 'dns.servers': [dnsAddress], 'smtp.maxConnectionsPerIp': connections + 5 }
});
await provision(server, 'firma.de', ['info']);
process.stdout.write(JSON.stringify({ port: server.ports.smtp }) + '\n');

process.stdin.resume();
process.stdin.on('end', async () => {
  const { db, blobs } = server.app.services;
  const stored = await db.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  const sample = await db.selectFrom('messages').select('blob_id').limit(1).executeTakeFirst();
  const head = sample ? (await blobs.read(sample.blob_id)).toString('latin1', 0, 4000) : '';
  process.stdout.write(JSON.stringify({ stored: Number(stored.n), head }) + '\n');
  await server.close();
  process.exit(0);
});
