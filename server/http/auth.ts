// Who is asking and may they: session cookie or API token, role check per route, CSRF and origin checks.
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findSession, type NewSession } from '../directory/admin-sessions.js';
import { findApiToken } from '../directory/api-tokens.js';
import type { Access, HttpContext, Principal } from './context.js';
import { errors } from './errors.js';

export const SESSION_COOKIE = 'postfach_session';
export const CSRF_HEADER = 'x-csrf-token';
/** RFC 9110 §9.2.1: these change nothing, so they need no CSRF token. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** RFC 6265 §5.2 cookie pairs; the first occurrence of a name wins. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    if (name && !cookies.has(name)) cookies.set(name, pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return cookies;
}

/** HttpOnly (scripts cannot read it), SameSite=Strict (other sites' pages never send it), Secure over TLS. */
export function setSessionCookie(reply: FastifyReply, request: FastifyRequest, session: NewSession, now: number): void {
  const maxAge = Math.max(0, Math.floor((session.expiresAt - now) / 1000));
  const secure = request.protocol === 'https' ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=${session.token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`);
}

export function clearSessionCookie(reply: FastifyReply, request: FastifyRequest): void {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure}`);
}

const sameSecret = (a: string, b: string) => a.length === b.length && crypto.timingSafeEqual(Buffer.from(a), Buffer.from(b));

async function resolvePrincipal(ctx: HttpContext, request: FastifyRequest): Promise<Principal | null> {
  const now = ctx.now();
  const authorization = request.headers.authorization;
  if (authorization !== undefined) {
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    const found = match ? await findApiToken(ctx.services.db, match[1], now) : null;
    // a token that was sent but is wrong is an error, not an anonymous request: scripts must notice revocation
    if (!found) throw errors.unauthenticated();
    return { via: 'token', admin: found.creator, role: found.token.role, tokenId: found.token.id, tokenName: found.token.name };
  }
  const cookie = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
  if (!cookie) return null;
  const found = await findSession(ctx.services.db, cookie, ctx.lifetime, now);
  if (!found) return null;
  const { session, admin } = found;
  return { via: 'session', admin, role: admin.role, sessionId: session.id, csrfToken: session.csrf_token, expiresAt: Math.min(session.expires_at, session.last_seen_at + ctx.lifetime.idleMs) };
}

/**
 * A browser sends Origin on cross-origin requests and on same-origin POSTs; when present it must be this server.
 * Together with SameSite=Strict and the CSRF header this closes cross-site request forgery, including login CSRF
 * on the public endpoints that have no session yet.
 */
function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}

const RANK: Record<Access, number> = { public: 0, admin: 1, owner: 2 };

/** Registers the hook every request passes: principal, CSRF, then the route's access level (default: owner). */
export function registerAuth(app: FastifyInstance, ctx: HttpContext): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    // by the route the router matched, never by the raw URL: the router decodes `/%61pi/…` to `/api/…` (so a check on
    // the URL's text would let it through unchecked); every route that is not the admin API declares `public`
    const access: Access = request.is404 ? 'public' : (request.routeOptions.config.access ?? 'owner');
    if (access === 'public' && request.routeOptions.config.ownAuthorization) return;
    const principal = await resolvePrincipal(ctx, request);
    request.principal = principal;
    const unsafe = !SAFE_METHODS.has(request.method);
    if (unsafe && principal?.via !== 'token') {
      if (!sameOrigin(request)) throw errors.crossOrigin();
      // public endpoints (login, setup) work with a stale cookie; the origin check above still guards them
      if (principal?.via === 'session' && access !== 'public') {
        const sent = request.headers[CSRF_HEADER];
        if (typeof sent !== 'string' || !sameSecret(sent, principal.csrfToken)) throw errors.csrf();
      }
    }
    if (access === 'public') return;
    if (!principal) throw errors.unauthenticated();
    if (RANK[principal.role === 'owner' ? 'owner' : 'admin'] < RANK[access]) throw errors.forbidden(access);
  });
}
