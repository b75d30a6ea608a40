// The HTTP server: admin API under /api/v1 (JSON, OpenAPI at /api/docs) and the first-start setup page. Built, not listening.
import fs from 'node:fs';
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
import { adminRoutes } from './routes/admins.js';
import { domainRoutes } from './routes/domains.js';
import { routingRoutes } from './routes/routing.js';
import { queueRoutes } from './routes/queue.js';
import { pluginRoutes } from './routes/plugins.js';
import { sessionRoutes } from './routes/session.js';
import { SETUP_PAGE_CSP, setupPage } from './setup-page.js';

export interface HttpOptions {
  limiter: LoginLimiter;
  endpoints(): ClientEndpoint[];
  /** one-time token for /setup while no owner exists */
  setupToken: string | null;
  /** TLS key and certificate: serve HTTPS (cookies get Secure) */
  https?: { key: string; cert: string } | null;
  /** tests inject a clock to expire sessions */
  now?: () => number;
  lifetime?: SessionLifetime;
  /** the operator's plugins, registered at /api/v1/plugins (server/plugins/loader.ts) */
  plugins?: FastifyPluginAsync;
}

/** JSON bodies are small: the largest is an account with a 1 KiB password. */
const BODY_LIMIT = 64 * 1024;
/** package.json is two folders up from server/http/ in the source tree, three from dist/server/http/ when built */
const PACKAGE = ['../../package.json', '../../../package.json'].map((p) => new URL(p, import.meta.url)).find((url) => fs.existsSync(url))!;
const VERSION: string = JSON.parse(fs.readFileSync(PACKAGE, 'utf8')).version;

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
    trustProxy: config.http.trustProxy,
    ...(options.https ? { https: { key: options.https.key, cert: options.https.cert, minVersion: 'TLSv1.2' as const } } : {}),
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
    log.info(
      { method: request.method, route: request.routeOptions.url ?? 'unknown', status: reply.statusCode, ms: Math.round(reply.elapsedTime), ip: request.ip, admin: p ? (p.via === 'session' ? p.admin.login : `token#${p.tokenId}`) : undefined },
      'http request'
    );
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-frame-options', 'DENY');
    return payload;
  });

  registerAuth(app, ctx);
  const openApi = collectOpenApi(app, { version: VERSION });
  await app.register(
    async (api) => {
      await api.register(sessionRoutes(ctx));
      await api.register(domainRoutes(ctx));
      await api.register(accountRoutes(ctx));
      await api.register(routingRoutes(ctx));
      await api.register(adminRoutes(ctx));
      await api.register(queueRoutes(ctx));
      await api.register(pluginRoutes(ctx));
    },
    { prefix: '/api/v1' }
  );
  if (options.plugins) await app.register(options.plugins, { prefix: '/api/v1/plugins' });
  app.get('/api/docs', { config: { access: 'public' } }, async () => openApi());
  app.get('/setup', { config: { access: 'public' } }, async (_request, reply) => reply.type('text/html; charset=utf-8').header('content-security-policy', SETUP_PAGE_CSP).send(setupPage()));
  await app.ready();
  return { app, ctx };
}
