// A Postfach in its own process, for crash tests and benchmarks: argv[2] is JSON
// { dns, dataDir?, overrides?, domain?, locals? }. Prints {"port":…} once listening; when stdin ends it prints
// {"stored":N,"head":"<first 4000 bytes of one stored message>"}, closes and exits. SIGKILL it to simulate a crash.
import { provision, startServer } from './server.js';

const options = JSON.parse(process.argv[2] ?? '{}') as { dns: string; dataDir?: string; overrides?: Record<string, unknown>; domain?: string; locals?: string[] };
const server = await startServer({
  dns: { address: options.dns } as never,
  dataDir: options.dataDir,
  overrides: { 'dns.servers': [options.dns], ...options.overrides }
});
if (options.domain) {
  const existing = await server.app.services.db.selectFrom('accounts').select('id').executeTakeFirst();
  if (!existing) await provision(server, options.domain, options.locals ?? []);
}
process.stdout.write(JSON.stringify({ port: server.ports.smtp, ports: server.ports, pid: process.pid }) + '\n');

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
