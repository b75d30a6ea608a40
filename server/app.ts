// build(config) wires every service and never listens by itself; listen() starts the configured servers (tests call both).
import crypto from 'node:crypto';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/schema.js';
import { buildHttp, type HttpApp, type HttpOptions } from './http/app.js';
import { endpointsOf } from './http/client-settings.js';
import { openDatabase } from './db/connect.js';
import { countOwners, createFirstOwner } from './directory/admins.js';
import { WriteQueue } from './db/transaction.js';
import { createResolver } from './dns/resolver.js';
import { createLogger, type Logger } from './log/logger.js';
import type { Services } from './services.js';
import { createMxServer } from './smtp/mx.js';
import type { SmtpListener } from './smtp/listener.js';
import { createImapServer, type ImapServer } from './imap/server.js';
import { LoginLimiter } from './auth/rate-limit.js';
import type { ImapSession } from './imap/session.js';
import { ConnectionCount } from './net/listener.js';
import { createPop3Server, pop3Shared, type Pop3Server } from './pop3/server.js';
import { BlobStore } from './store/blobs.js';
import { MailboxNotifier } from './store/notifier.js';
import { loadTlsMaterial } from './tls/certificates.js';
import { Srs, serverSecret } from './mailauth/srs.js';
import { QueueRunner } from './queue/runner.js';
import { SmtpDelivery } from './queue/deliver.js';
import { queueSize } from './queue/store.js';
import { Metrics } from './metrics/metrics.js';
import { checkHealth } from './metrics/health.js';
import { AcmeCertificates, AcmeChallenges, type AcmeTiming } from './tls/acme.js';
import { buildAcmeHttp } from './http/acme-challenge.js';
import { createSubmissionServer } from './smtp/submission.js';
import { loopbackFor } from './smtp/test-mail.js';
import { ImportRunner, type ImportRunnerOptions } from './importer/runner.js';
import { foregroundImportRunning } from './importer/store.js';
import { PluginHost } from './plugins/host.js';
import { loadPlugins, registerPlugins, unusedSections } from './plugins/loader.js';
import { deliveryNotifier } from './plugins/delivery.js';
import type { PostfachPlugin } from './plugins/define.js';

export interface Listening {
  /** bound ports by service name; absent when the service is disabled (port -1) */
  smtp?: number;
  submission?: number;
  submissions?: number;
  imap?: number;
  imaps?: number;
  pop3?: number;
  pop3s?: number;
  http?: number;
  /** the plain-HTTP ACME challenge listener (acme.httpPort) */
  acme?: number;
}

export interface App {
  services: Services;
  /** one-time token for the setup link while no owner exists (null otherwise); printed by `serve`, never logged */
  setupToken: string | null;
  listen(): Promise<Listening>;
  close(): Promise<void>;
}

export interface BuildOptions {
  logger?: Logger;
  /** HTTP options for tests (clock, session lifetimes) */
  http?: Pick<HttpOptions, 'now' | 'lifetime'>;
  /** false: listen() leaves the outbound queue stopped (tests that inspect queued entries) */
  queue?: boolean;
  /** ACME schedule for tests (check interval, retry delay, clock) */
  acme?: Partial<AcmeTiming>;
  /** false: listen() leaves the import runner stopped; otherwise its scan and lease intervals (tests shorten them) */
  imports?: false | Pick<ImportRunnerOptions, 'scanIntervalMs' | 'renewIntervalMs'>;
  /** plugins instead of plugins.enabled (names or plugin functions: the plugin harness), and their clock */
  plugins?: { list?: ReadonlyArray<string | PostfachPlugin>; now?: () => number };
}

export async function build(config: Config, options: BuildOptions = {}): Promise<App> {
  const log = options.logger ?? createLogger(config.log.level);
  // plugins and their settings are checked before anything touches the data folder
  const plugins = await loadPlugins(config, options.plugins?.list);
  for (const name of unusedSections(config, plugins)) log.warn({ section: `plugins.${name}` }, 'config section of a plugin that is not loaded');
  const database = await openDatabase(config.dataDir);
  const blobs = new BlobStore(config.dataDir);
  await blobs.init();
  // a foreground import of the CLI holds blob files it has not committed yet: the sweep waits for the next start
  const orphans = (await foregroundImportRunning(database.db)) ? 0 : await blobs.sweepOrphans(database.db);
  if (orphans) log.warn({ orphans }, 'removed blob files no message referenced (left by an interrupted delivery)');
  if (config.owner.email) {
    // POSTFACH_OWNER_EMAIL/POSTFACH_OWNER_PASSWORD: the first owner, created once; later starts leave admins alone
    if ((await countOwners(database.db)) === 0) {
      await createFirstOwner(database.db, { minLength: config.accounts.passwordMinLength }, { name: 'setup' }, config.owner.email, config.owner.password);
      log.info({ owner: config.owner.email }, 'owner admin user created from the configuration');
    }
  }
  const tls = await loadTlsMaterial({ ...config.tls, dataDir: config.dataDir, hostname: config.hostname }, log);
  const acmeChallenges = config.acme.enabled ? new AcmeChallenges() : null;
  const acmeCertificates = acmeChallenges ? new AcmeCertificates(config, tls, acmeChallenges, log, options.acme) : null;
  // a certificate from an earlier order serves at once; until the first order succeeds the self-signed one does
  acmeCertificates?.loadStored();
  const metrics = new Metrics();
  tls.onChange(() => metrics.tlsReload('loaded'));
  tls.onRefused(() => metrics.tlsReload('refused'));
  const resolver = createResolver({ servers: config.dns.servers, timeout: config.dns.timeout });
  const services = {
    config,
    log,
    database,
    db: database.db,
    writes: new WriteQueue(database.db),
    blobs,
    resolver,
    notifier: new MailboxNotifier(),
    tls,
    metrics,
    accounts: { db: database.db, policy: { minLength: config.accounts.passwordMinLength }, defaultQuota: config.accounts.defaultQuota },
    srs: new Srs(await serverSecret(database.db, 'srs')),
    plugins: new PluginHost(log)
  } as Services;
  // the runner needs the services it is part of (it commits DSNs through them)
  services.queue = new QueueRunner(services, new SmtpDelivery(config, resolver, log));
  services.queue.listeners.push(({ results }) => {
    for (const r of results) metrics.delivery(r.status === 'failed' ? 'bounced' : r.status);
  });
  metrics.setSources({ queue: () => queueSize(database.db), certificateExpiry: () => tls.certificate.validTo.getTime() });
  services.queue.listeners.push(deliveryNotifier(services.plugins));
  services.imports = new ImportRunner(services, { holder: `server:${process.pid}`, ...(options.imports || {}) });

  // Without an owner (no POSTFACH_OWNER_EMAIL, no `postfach admin owner create`) the first visitor of the setup
  // link creates one; the token lives in memory only, so every start without an owner prints a fresh link.
  const setupToken = config.http.port >= 0 && (await countOwners(database.db)) === 0 ? crypto.randomBytes(24).toString('base64url') : null;

  let mx: SmtpListener | undefined;
  const submissionServers: SmtpListener[] = [];
  let acmeHttp: FastifyInstance | undefined;
  /** every bound listener by name, for /healthz */
  const bound = new Map<string, net.Server>();
  const imapServers: ImapServer[] = [];
  // one limiter and one session set for every login protocol, so guessing cannot hop between ports
  const limiter = new LoginLimiter();
  const imapSessions = new Set<ImapSession>();
  const imapConnections = new ConnectionCount(config.imap);
  const pop3Servers: Pop3Server[] = [];
  const pop3 = pop3Shared(services);
  let closed = false;
  /** the ports bound by listen(), for the client settings the admin API serves */
  const ports: Listening = {};

  // The admin HTTP app is built here, listening or not: plugins are fastify plugins registered into it (each in its
  // own context under /api/v1/plugins/<name>), so every hook is registered before any listener accepts a connection.
  let http: HttpApp;
  try {
    http = await buildHttp(services, {
      limiter,
      setupToken,
      endpoints: () => endpointsOf({ ...ports }, config),
      // the MX over loopback, for the admin UI's test message
      mx: () => (ports.smtp === undefined ? null : { host: loopbackFor(config.bind), port: ports.smtp }),
      https: config.http.tls ? tls : null,
      health: () => checkHealth(database, bound),
      acmeChallenges: config.acme.httpPort < 0 ? acmeChallenges : null,
      plugins: registerPlugins(plugins, services.plugins, services, options.plugins?.now ?? Date.now),
      ...options.http
    });
  } catch (err) {
    await database.close();
    throw err;
  }
  metrics.trackConnections(http.app.server, 'http');
  services.plugins.seal();
  if (plugins.length) log.info({ plugins: plugins.map((p) => p.name) }, 'plugins loaded');

  return {
    services,
    setupToken,
    async listen() {
      const listening: Listening = {};
      if (config.smtp.port >= 0) {
        mx = createMxServer(services);
        listening.smtp = await mx.listen(config.smtp.port, config.bind);
        bound.set('smtp', mx.server.server);
      }
      for (const [key, implicitTls] of [['submission', false], ['submissions', true]] as const) {
        if (config[key].port < 0) continue;
        const server = createSubmissionServer(services, { implicitTls, limiter });
        submissionServers.push(server);
        listening[key] = await server.listen(config[key].port, config.bind);
        bound.set(key, server.server.server);
      }
      for (const [key, implicitTls] of [['imap', false], ['imaps', true]] as const) {
        if (config[key].port < 0) continue;
        const server = createImapServer(services, { implicitTls, limiter, sessions: imapSessions, connections: imapConnections });
        imapServers.push(server);
        listening[key] = await server.listen(config[key].port, config.bind);
        bound.set(key, server.server);
      }
      for (const [key, implicitTls] of [['pop3', false], ['pop3s', true]] as const) {
        if (config[key].port < 0) continue;
        const server = createPop3Server(services, { implicitTls, limiter, shared: pop3 });
        pop3Servers.push(server);
        listening[key] = await server.listen(config[key].port, config.bind);
        bound.set(key, server.server);
      }
      if (config.http.port >= 0) {
        // last: the client settings it serves name the ports bound above
        Object.assign(ports, listening);
        await http.app.listen({ port: config.http.port, host: config.bind });
        listening.http = (http.app.server.address() as AddressInfo).port;
        bound.set('http', http.app.server);
      }
      if (acmeChallenges && config.acme.httpPort >= 0) {
        acmeHttp = await buildAcmeHttp(config, acmeChallenges, log, listening.http);
        await acmeHttp.listen({ port: config.acme.httpPort, host: config.bind });
        listening.acme = (acmeHttp.server.address() as AddressInfo).port;
        bound.set('acme', acmeHttp.server);
      }
      // after the HTTP listeners: the CA fetches the challenge from them
      acmeCertificates?.start();
      if (options.queue !== false) await services.queue.start();
      if (options.imports !== false) await services.imports.start();
      return listening;
    },
    async close() {
      if (closed) return;
      closed = true;
      const graceMs = config.shutdownTimeout * 1000;
      await acmeCertificates?.stop();
      // no new connections anywhere; SMTP transactions in progress finish (up to graceMs), IMAP sessions get BYE; at
      // the same time the queue starts no new attempt and records the running ones (aborted after graceMs)
      await Promise.all([
        mx?.close(),
        ...submissionServers.map((s) => s.close()),
        ...imapServers.map((s) => s.close()),
        ...pop3Servers.map((s) => s.close()),
        acmeHttp?.close(),
        services.queue.stop(graceMs),
        // a running import stops between two messages and resumes from there at the next start
        services.imports.stop()
      ]);
      // then the plugins: their last notifications, then their onClose hooks (fastify's, with the HTTP app)
      await services.plugins.drain();
      await http.app.close();
      tls.close();
      await database.close();
    }
  };
}
