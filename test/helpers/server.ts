// Test helper: a real Postfach (build + listen) on 127.0.0.1 ephemeral ports with a temp data folder and a loopback DNS server.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { build, type App, type BuildOptions, type Listening } from '../../server/app.js';
import { loadConfig } from '../../server/config/load.js';
import type { Config } from '../../server/config/schema.js';
import { addAccount } from '../../server/directory/accounts.js';
import { addDomain } from '../../server/directory/domains.js';
import { createLogger } from '../../server/log/logger.js';
import { startDnsServer, type TestDnsServer, type ZoneData } from './dns-server.js';

export const TEST_HOSTNAME = 'mx.postfach.test';
export const PASSWORD = 'Correct-Horse-42';
export const actor = { name: 'test' };

export interface TestServer {
  app: App;
  config: Config;
  ports: Listening;
  dns: TestDnsServer;
  dataDir: string;
  close(): Promise<void>;
}

export interface TestServerOptions {
  zone?: ZoneData;
  /** config overrides by dotted key */
  overrides?: Record<string, unknown>;
  /** reuse a data folder (restart tests) */
  dataDir?: string;
  dns?: TestDnsServer;
  /** build options beyond the logger (the HTTP clock and session lifetimes) */
  build?: Omit<BuildOptions, 'logger'>;
}

export function tempDir(prefix = 'postfach-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dns = options.dns ?? (await startDnsServer(options.zone ?? {}));
  const dataDir = options.dataDir ?? tempDir();
  const config = loadConfig({
    env: {},
    overrides: {
      hostname: TEST_HOSTNAME,
      dataDir,
      bind: '127.0.0.1',
      'smtp.port': 0,
      'submission.port': -1,
      'submissions.port': -1,
      'imap.port': -1,
      'imaps.port': -1,
      'pop3.port': -1,
      'pop3s.port': -1,
      'http.port': -1,
      'dns.servers': [dns.address],
      'dns.timeout': 2000,
      // close() lets SMTP transactions a test left open finish for this long, not the production 30 s
      shutdownTimeout: 3,
      ...options.overrides
    }
  });
  const app = await build(config, { ...options.build, logger: createLogger(process.env.POSTFACH_TEST_LOG ?? 'silent') });
  const ports = await app.listen();
  return {
    app,
    config,
    ports,
    dns,
    dataDir,
    async close() {
      await app.close();
      if (!options.dns) await dns.close();
      if (!options.dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
    }
  };
}

/** Adds a domain and accounts (password PASSWORD) through the directory, as the CLI and API do. */
export async function provision(server: TestServer, domain: string, locals: string[]): Promise<void> {
  const { db } = server.app.services;
  const existing = await db.selectFrom('domains').select('id').where('name', '=', domain).executeTakeFirst();
  if (!existing) await addDomain(db, actor, domain);
  for (const local of locals) await addAccount(server.app.services.accounts, actor, { address: `${local}@${domain}`, password: PASSWORD });
}
