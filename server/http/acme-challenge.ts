// ACME HTTP-01 (RFC 8555 §8.3): GET /.well-known/acme-challenge/<token> answers the key authorization of a pending
// order; on a dedicated plain-HTTP port (acme.httpPort, 80) everything else is redirected to the admin UI.
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { AcmeChallenges } from '../tls/acme.js';

/** RFC 8555 §8.3: the token is base64url (RFC 4648 §5) without padding. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

export function acmeChallengeRoute(challenges: AcmeChallenges) {
  return async (app: FastifyInstance) => {
    app.get<{ Params: { token: string } }>('/.well-known/acme-challenge/:token', { config: { access: 'public' } }, async (request, reply) => {
      const answer = TOKEN.test(request.params.token) ? challenges.get(request.params.token) : undefined;
      if (answer === undefined) return reply.code(404).type('text/plain').send('no such challenge\n');
      return reply.type('application/octet-stream').send(answer);
    });
  };
}

/**
 * The plain-HTTP listener for acme.httpPort: challenges, and a redirect to the admin UI (on `httpPort`, the bound
 * admin port; none when the admin API is off) for anything else.
 */
export async function buildAcmeHttp(config: Config, challenges: AcmeChallenges, log: Logger, httpPort: number | undefined): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: log.child({ module: 'acme-http' }), logController: new LogController({ disableRequestLogging: true }), return503OnClosing: true, connectionTimeout: 30_000, requestTimeout: 30_000 }) as unknown as FastifyInstance;
  await app.register(acmeChallengeRoute(challenges));
  const scheme = config.http.tls ? 'https' : 'http';
  const defaultPort = config.http.tls ? 443 : 80;
  const base = `${scheme}://${config.hostname}${httpPort === defaultPort ? '' : `:${httpPort}`}`;
  app.setNotFoundHandler((request, reply) => {
    // only the path goes into the Location: the Host header a client sent is not trusted
    const target = httpPort !== undefined ? base + (request.url.startsWith('/') ? request.url : '/') : null;
    if (!target) return reply.code(404).type('text/plain').send('not found\n');
    return reply.code(301).header('location', target).type('text/plain').send(`see ${target}\n`);
  });
  await app.ready();
  return app;
}
