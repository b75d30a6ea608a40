// The HTTP server: admin API under /api/v1 (JSON, OpenAPI at /api/docs), the admin UI (also the first-start setup
// page), /metrics and /healthz, ACME challenges. Built, not listening.
import type tls from 'node:tls';
import Fastify, { LogController, type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import type { LoginLimiter } from '../auth/rate-limit.js';
import type { SessionLifetime } from '../directory/admin-sessions.js';
import type { Services } from '../services.js';
import { registerAuth } from './auth.js';
import type { ClientEndpoint } from './client-settings.js';
import { Confirmations } from './confirmations.js';
import type { HttpContext } from './context.js';
import { errors, toHttpError } from './errors.js';
import { collectOpenApi } from './openapi.js';
import { accountRoutes } from './routes/accounts.js';
import { autoconfigRoutes } from './routes/autoconfig.js';
import { adminRoutes } from './routes/admins.js';
import { domainRoutes } from './routes/domains.js';
import { routingRoutes } from './routes/routing.js';
import { queueRoutes } from './routes/queue.js';
import { importRoutes } from './routes/imports.js';
import { pluginRoutes } from './routes/plugins.js';
import { sessionRoutes } from './routes/session.js';
import { registerAdminUi } from './admin-ui.js';
import { PACKAGE_VERSION } from '../paths.js';
import type { MxAddress } from '../smtp/test-mail.js';
import { testMailRoutes } from './routes/test-mail.js';
import { operationsRoutes } from './routes/operations.js';
import { acmeChallengeRoute } from './acme-challenge.js';
import { checkHealth, type HealthReport } from '../metrics/health.js';
import type { TlsMaterial } from '../tls/material.js';
import type { AcmeChallenges } from '../tls/acme.js';

export interface HttpOptions {
  limiter: LoginLimiter;
  endpoints(): ClientEndpoint[];
  /** where the MX listens, for test messages; absent or null when it does not run */
  mx?: () => MxAddress | null;
  /** one-time token for /setup while no owner exists */
  setupToken: string | null;
  /** the server certificate: serve HTTPS (cookies get Secure), taking a new certificate without restart */
  https?: TlsMaterial | null;
  /** the /healthz verdict (default: whether the database answers) */
  health?: () => HealthReport;
  /** answer ACME HTTP-01 challenges on this listener (when it is plain HTTP and no acme.httpPort is set) */
  acmeChallenges?: AcmeChallenges | null;
  /** tests inject a clock to expire sessions */
  now?: () => number;
  lifetime?: SessionLifetime;
  /** the operator's plugins, registered at /api/v1/plugins (server/plugins/loader.ts) */
  plugins?: FastifyPluginAsync;
}

/** JSON bodies are small: the largest is an account with a 1 KiB password. */
const BODY_LIMIT = 64 * 1024;

export interface HttpApp {
  app: FastifyInstance;
  ctx: HttpContext;
}

export async function buildHttp(services: Services, options: HttpOptions): Promise<HttpApp> {
  const { config } = services;
  const log = services.log.child({ module: 'http' });
  const app = Fastify({
    // requests are logged below without query strings, headers or bodies (tokens and passwords live there)
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT,
    // a proxy on this box only: trusting every hop would take the client's own left-most X-Forwarded-For entry as its
    // address (login limits per address, audit log)
    trustProxy: config.http.trustProxy ? 'loopback' : false,
    ...(options.https ? { https: options.https.serverOptions() } : {}),
    // unknown fields are an error naming the field, not silently dropped
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
    return503OnClosing: true,
    connectionTimeout: 60_000,
    requestTimeout: 60_000
  }) as unknown as FastifyInstance;

  const now = options.now ?? Date.now;
  const ctx: HttpContext = {
    services,
    limiter: options.limiter,
    now,
    lifetime: options.lifetime ?? { idleMs: config.http.sessionIdleTimeout * 1000, maxMs: config.http.sessionMaxAge * 1000 },
    setupToken: options.setupToken,
    endpoints: options.endpoints,
    mx: options.mx ?? (() => null),
    confirmations: new Confirmations(now)
  };

  app.setErrorHandler((err, request, reply) => {
    const httpError = toHttpError(err);
    if (httpError.status >= 500) log.error({ err, method: request.method, route: request.routeOptions.url }, 'request failed');
    if (httpError.status === 429 && httpError.extra.retryAfter) reply.header('retry-after', String(httpError.extra.retryAfter));
    return reply.code(httpError.status).type('application/json').send(httpError.body());
  });
  app.setNotFoundHandler((request, reply) => {
    const httpError = errors.routeNotFound(request.method, request.url);
    return reply.code(404).type('application/json').send(httpError.body());
  });
  app.addHook('onResponse', async (request, reply) => {
    const p = request.principal;
    const route = request.routeOptions.url;
    // health checks and scrapes come every few seconds: logged only at debug level
    (route === '/healthz' || route === '/metrics' ? log.debug.bind(log) : log.info.bind(log))(
      { method: request.method, route: request.routeOptions.url ?? 'unknown', status: reply.statusCode, ms: Math.round(reply.elapsedTime), ip: request.ip, admin: p ? (p.via === 'session' ? p.admin.login : `token#${p.tokenId}`) : undefined },
      'http request'
    );
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    // API answers are never cached; the UI's hashed assets set their own
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    return payload;
  });

  registerAuth(app, ctx);
  const openApi = collectOpenApi(app, { version: PACKAGE_VERSION });
  await app.register(
    async (api) => {
      await api.register(sessionRoutes(ctx));
      await api.register(domainRoutes(ctx));
      await api.register(accountRoutes(ctx));
      await api.register(routingRoutes(ctx));
      await api.register(adminRoutes(ctx));
      await api.register(queueRoutes(ctx));
      await api.register(testMailRoutes(ctx));
      await api.register(importRoutes(ctx));
      await api.register(pluginRoutes(ctx));
    },
    { prefix: '/api/v1' }
  );
  await app.register(operationsRoutes(ctx, options.health ?? (() => checkHealth(services.database, new Map()))));
  if (options.acmeChallenges) await app.register(acmeChallengeRoute(options.acmeChallenges));
  if (options.https) {
    const detach = options.https.attach(app.server as unknown as tls.Server);
    app.addHook('onClose', async () => detach());
  }
  // client autoconfiguration at the root (Thunderbird, Outlook) and the per-account Apple profile under /api/v1
  await app.register(autoconfigRoutes(ctx));
  if (options.plugins) await app.register(options.plugins, { prefix: '/api/v1/plugins' });
  app.get('/api/docs', { config: { access: 'public' } }, async () => openApi());
  registerAdminUi(app);
  await app.ready();
  return { app, ctx };
}
