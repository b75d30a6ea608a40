// Admin API benchmark: listing A accounts (with usage over M messages), one account's details under concurrent
// load with an API token, and the admin login (argon2id-bound). The server runs in its own process.
import fs from 'node:fs';
import { openDatabase } from '../server/db/connect.js';
import { createApiToken } from '../server/directory/api-tokens.js';
import { createAdmin } from '../server/directory/admins.js';
import { createDefaultMailboxes } from '../server/store/mailboxes.js';
import { writeTransaction } from '../server/db/transaction.js';
import { startChildServer } from '../test/helpers/child-server.js';
import { startDnsServer } from '../test/helpers/dns-server.js';
import { PASSWORD, tempDir } from '../test/helpers/server.js';
import { populate } from './imap.js';

export interface HttpBenchOptions {
  accounts: number;
  messages: number;
  /** concurrent clients for the throughput run */
  concurrency: number;
  seconds: number;
}

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const t = process.hrtime.bigint();
  const value = await run();
  return [value, Number(process.hrtime.bigint() - t) / 1e6];
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function benchHttp(options: HttpBenchOptions): Promise<Record<string, number | string>> {
  const dataDir = tempDir('postfach-bench-');
  const dns = await startDnsServer({});
  await populate(dataDir, options.messages);
  const { db, close } = await openDatabase(dataDir);
  const domain = await db.selectFrom('domains').select('id').executeTakeFirstOrThrow();
  const hash = (await db.selectFrom('accounts').select('password_hash').executeTakeFirstOrThrow()).password_hash;
  await writeTransaction(db, async (tx) => {
    for (let i = 1; i < options.accounts; i++) {
      const now = Date.now();
      const account = await tx
        .insertInto('accounts')
        .values({ domain_id: domain.id, local_part: `user${i}`, address: `user${i}@firma.de`, display_name: `User ${i}`, password_hash: hash, active: 1, quota: 0, used_bytes: 0, created_at: now, updated_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
      await createDefaultMailboxes(tx, account.id);
    }
  });
  await createAdmin(db, { minLength: 10 }, { name: 'bench' }, { login: 'chefin@firma.de', password: PASSWORD, role: 'owner' });
  const { token } = await createApiToken(db, { name: 'bench' }, { name: 'bench', role: 'owner', createdBy: null });
  await close();

  const child = await startChildServer({ dns: dns.address, dataDir, overrides: { 'http.port': 0, 'smtp.port': -1 } });
  const base = `http://127.0.0.1:${child.ports.http}/api/v1`;
  const headers = { authorization: `Bearer ${token}` };
  try {
    const listTimes: number[] = [];
    let listed = 0;
    for (let i = 0; i < 20; i++) {
      const [body, ms] = await timed(async () => (await (await fetch(`${base}/accounts`, { headers })).json()) as { accounts: unknown[] });
      listed = body.accounts.length;
      listTimes.push(ms);
    }
    if (listed !== options.accounts) throw new Error(`listed ${listed} accounts`);

    let requests = 0;
    const end = Date.now() + options.seconds * 1000;
    await Promise.all(
      Array.from({ length: options.concurrency }, async (_, c) => {
        while (Date.now() < end) {
          const response = await fetch(`${base}/accounts/user${(requests + c) % (options.accounts - 1) + 1}@firma.de`, { headers });
          if (response.status !== 200) throw new Error(`GET account answered ${response.status}`);
          await response.arrayBuffer();
          requests++;
        }
      })
    );

    const loginTimes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const [response, ms] = await timed(() => fetch(`${base}/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: 'chefin@firma.de', password: PASSWORD }) }));
      if (response.status !== 200) throw new Error(`login answered ${response.status}`);
      loginTimes.push(ms);
    }
    return {
      benchmark: 'admin API',
      accounts: options.accounts,
      messages: options.messages,
      listAccountsMedianMs: Number(median(listTimes).toFixed(1)),
      getAccountRequestsPerSecond: Math.round(requests / options.seconds),
      concurrency: options.concurrency,
      loginMedianMs: Number(median(loginTimes).toFixed(1))
    };
  } finally {
    if (child.process.exitCode === null) await child.crash();
    await dns.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
