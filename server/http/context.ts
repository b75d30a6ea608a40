// What every admin API route receives: the services, the login limiter, the clock and per-process state.
import type { LoginLimiter } from '../auth/rate-limit.js';
import type { Admin } from '../db/schema.js';
import type { SessionLifetime } from '../directory/admin-sessions.js';
import type { Actor } from '../directory/audit.js';
import type { Services } from '../services.js';
import type { ClientEndpoint } from './client-settings.js';
import type { Confirmations } from './confirmations.js';
import type { MxAddress } from '../smtp/test-mail.js';

/** Who is asking: an admin user through the UI's session cookie, or a script through an API token. */
export type Principal =
  | { via: 'session'; admin: Admin; role: Admin['role']; sessionId: string; csrfToken: string; expiresAt: number }
  | { via: 'token'; admin: Admin | null; role: Admin['role']; tokenId: number; tokenName: string };

/** Route access: anyone, any admin user (owner or admin), or the owner only. */
export type Access = 'public' | 'admin' | 'owner';

export interface HttpContext {
  services: Services;
  limiter: LoginLimiter;
  now(): number;
  lifetime: SessionLifetime;
  /** the one-time setup token while no owner exists; null once one does */
  setupToken: string | null;
  /** the protocol listeners mail clients connect to, as bound */
  endpoints(): ClientEndpoint[];
  confirmations: Confirmations;
  /** where this server's MX listens (test messages go through it); null when it does not run */
  mx(): MxAddress | null;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    access?: Access;
    /** the route reads the Authorization header itself (GET /metrics and its own bearer token): no admin login */
    ownAuthorization?: boolean;
  }
  /** documentation keys /api/docs publishes (fastify ignores them when validating) */
  interface FastifySchema {
    summary?: string;
    description?: string;
    tags?: string[];
  }
}

/** The audit log's name for a principal: the admin's login, or the token's name and id. */
export function actorOf(principal: Principal | null, ip: string): Actor {
  if (!principal) return { name: 'setup', ip };
  if (principal.via === 'session') return { name: principal.admin.login, ip };
  return { name: `token:${principal.tokenName}#${principal.tokenId}`, ip };
}
