// The service container build() wires and every protocol server receives.
import type { Kysely } from 'kysely';
import type { Config } from './config/schema.js';
import type { DatabaseHandle } from './db/connect.js';
import type { Database } from './db/schema.js';
import type { DnsResolver } from './dns/resolver.js';
import type { Logger } from './log/logger.js';
import type { BlobStore } from './store/blobs.js';
import type { MailboxNotifier } from './store/notifier.js';
import type { TlsMaterial } from './tls/certificates.js';
import type { AccountContext } from './directory/accounts.js';
import type { WriteQueue } from './db/transaction.js';
import type { Srs } from './mailauth/srs.js';
import type { QueueRunner } from './queue/runner.js';
import type { Metrics } from './metrics/metrics.js';
import type { ImportRunner } from './importer/runner.js';
import type { PluginHost } from './plugins/host.js';

export interface Services {
  config: Config;
  log: Logger;
  database: DatabaseHandle;
  db: Kysely<Database>;
  /** group-committed writes for the delivery path */
  writes: WriteQueue;
  blobs: BlobStore;
  resolver: DnsResolver;
  notifier: MailboxNotifier;
  /** the certificate every TLS listener presents; swapped at runtime (file change, ACME renewal) */
  tls: TlsMaterial;
  /** Prometheus counters and gauges (GET /metrics) */
  metrics: Metrics;
  accounts: AccountContext;
  /** sender rewriting for forwards and the decoding of bounces to rewritten addresses */
  srs: Srs;
  /** the outbound queue: kick() after committing new entries */
  queue: QueueRunner;
  /** imports from other providers over IMAP: kick() after creating or resuming a job, abort() after stopping one */
  imports: ImportRunner;
  /** the plugin hooks (none registered when no plugin is enabled) */
  plugins: PluginHost;
}
