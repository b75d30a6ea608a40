// Operations endpoints outside the admin API: GET /metrics (Prometheus text format; a bearer token or loopback only)
// and GET /healthz (public: 200 when the database answers and every listener is bound, 503 otherwise).
import crypto from 'node:crypto';
import net from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { HealthReport } from '../../metrics/health.js';
import type { HttpContext } from '../context.js';
import { errors } from '../errors.js';

/**
 * Without a configured token only loopback clients may scrape, and only directly: a request a reverse proxy on the
 * same box forwarded (it carries Forwarded/X-Forwarded-For) comes from somewhere else. With http.trustProxy set, a
 * proxy on this box may forward without those headers (nginx's plain proxy_pass does), so loopback proves nothing
 * and only the token lets a scraper in.
 */
function loopbackDirect(request: FastifyRequest, behindProxy: boolean): boolean {
  if (behindProxy) return false;
  const address = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
  const loopback = net.isIPv4(address) ? address.startsWith('127.') : address === '::1';
  return loopback && request.headers['x-forwarded-for'] === undefined && request.headers.forwarded === undefined;
}

function tokenMatches(request: FastifyRequest, token: string): boolean {
  const match = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? '');
  if (!match) return false;
  // compare digests: equal length, constant time, whatever was sent
  const digest = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(match[1]), digest(token));
}

export function operationsRoutes(ctx: HttpContext, health: () => HealthReport) {
  return async (app: FastifyInstance) => {
    const { metrics, config } = ctx.services;

    app.get('/metrics', { config: { access: 'public', ownAuthorization: true } }, async (request, reply) => {
      const token = config.http.metricsToken;
      if (token ? !tokenMatches(request, token) : !loopbackDirect(request, config.http.trustProxy)) throw token ? errors.metricsToken() : errors.metricsLoopback(config.http.trustProxy);
      const { contentType, body } = await metrics.exposition();
      return reply.type(contentType).send(body);
    });

    app.get('/healthz', { config: { access: 'public' } }, async (_request, reply) => {
      const report = health();
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    });
  };
}
