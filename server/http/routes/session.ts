// Admin login and logout (session cookie + CSRF token), first-start owner setup, the password policy, own password and TOTP enrolment.
import crypto from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { totpUri } from '../../auth/totp.js';
import { normalizeAddress } from '../../directory/address.js';
import { createSession, deleteSession } from '../../directory/admin-sessions.js';
import { beginTotp, confirmTotp, countOwners, createFirstOwner, disableTotp, setAdminPassword, verifyAdmin, verifyTotp } from '../../directory/admins.js';
import { invalid } from '../../directory/errors.js';
import { NAME_MIN_LENGTH, PASSWORD_MAX_LENGTH, policyRules } from '../../directory/password-policy.js';
import type { Admin } from '../../db/schema.js';
import { clearSessionCookie, setSessionCookie } from '../auth.js';
import { actorOf, type HttpContext, type Principal } from '../context.js';
import { errors, HttpError } from '../errors.js';
import { adminView } from '../views.js';
import { addressString, objectSchema, passwordString } from '../schemas.js';

const totpCode = { type: 'string', pattern: '^[0-9]{6}$', description: '6-digit code from the authenticator app' } as const;

/** The limiter counts admin logins under their own names, apart from the mailbox of the same address. */
const limiterKey = (login: string) => {
  const parsed = normalizeAddress(login);
  return parsed ? `admin:${parsed.address}` : null;
};

function sessionOnly(principal: Principal | null): Extract<Principal, { via: 'session' }> {
  if (principal?.via !== 'session') throw new HttpError(403, 'forbidden', 'only an admin user logged in with a password may do this (not an API token)', undefined, 'session');
  return principal;
}

export function sessionRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    const { db } = ctx.services;
    const policy = ctx.services.accounts.policy;

    const startSession = async (request: FastifyRequest, reply: import('fastify').FastifyReply, admin: Admin) => {
      const now = ctx.now();
      const session = await createSession(db, admin.id, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null }, ctx.lifetime, now);
      setSessionCookie(reply, request, session, now);
      return { authenticated: true, via: 'session', admin: adminView(admin), csrfToken: session.csrfToken, expiresAt: Math.min(session.expiresAt, now + ctx.lifetime.idleMs) };
    };

    app.get('/session', { config: { access: 'public' }, schema: { summary: 'Who is logged in; the CSRF token for this session', tags: ['session'] } }, async (request) => {
      const p = request.principal;
      if (!p) return { authenticated: false, setupRequired: ctx.setupToken !== null && (await countOwners(db)) === 0 };
      if (p.via === 'token') return { authenticated: true, via: 'token', role: p.role, token: { id: p.tokenId, name: p.tokenName } };
      return { authenticated: true, via: 'session', admin: adminView(p.admin), csrfToken: p.csrfToken, expiresAt: p.expiresAt };
    });

    app.get(
      '/password-policy',
      {
        config: { access: 'public' },
        schema: {
          summary: 'The password rules for mailboxes and admin users: minimum and maximum length and every rule with its sentence',
          description: 'Public, so the setup page can show the rules before anyone is logged in. The admin UI checks them live with the same code the server runs.',
          tags: ['session']
        }
      },
      async () => ({ minLength: policy.minLength, maxLength: PASSWORD_MAX_LENGTH, nameMinLength: NAME_MIN_LENGTH, rules: policyRules(policy) })
    );

    app.post<{ Body: { login: string; password: string; totp?: string } }>(
      '/session',
      {
        config: { access: 'public' },
        schema: {
          summary: 'Log in: sets the session cookie and returns the CSRF token',
          description: 'Failed logins are limited per client address and per login (429 with retryAfter).',
          tags: ['session'],
          body: objectSchema({ login: addressString, password: passwordString, totp: totpCode }, ['login', 'password'])
        }
      },
      async (request, reply) => {
        const { login, password, totp } = request.body;
        const key = limiterKey(login);
        const verdict = ctx.limiter.check(request.ip, key);
        if (verdict.locked) {
          ctx.services.metrics.loginFailed('http', 'locked');
          ctx.services.log.info({ ip: request.ip, scope: verdict.scope }, 'admin login refused: too many failures');
          await ctx.limiter.delay(request.ip, key);
          throw errors.locked(verdict.retryAfterMs);
        }
        const admin = await verifyAdmin(db, login, password);
        if (!admin) {
          ctx.limiter.recordFailure(request.ip, key);
          ctx.services.metrics.loginFailed('http', 'invalid');
          ctx.services.log.info({ ip: request.ip, login: key ? login : undefined }, 'admin login failed');
          await ctx.limiter.delay(request.ip, key);
          throw errors.invalidCredentials();
        }
        if (admin.totp_secret) {
          // the password was right: a missing code is no failure, a wrong one is
          if (!totp) throw errors.totpRequired();
          if (!(await verifyTotp(db, admin, totp, ctx.now()))) {
            ctx.limiter.recordFailure(request.ip, key);
            ctx.services.metrics.loginFailed('http', 'invalid');
            await ctx.limiter.delay(request.ip, key);
            throw errors.invalidTotp();
          }
        }
        ctx.limiter.recordSuccess(key!);
        ctx.services.log.info({ ip: request.ip, admin: admin.login }, 'admin logged in');
        return startSession(request, reply, admin);
      }
    );

    app.delete('/session', { config: { access: 'admin' }, schema: { summary: 'Log out (ends this session)', tags: ['session'] } }, async (request, reply) => {
      const p = sessionOnly(request.principal);
      await deleteSession(db, p.sessionId);
      clearSessionCookie(reply, request);
      return reply.code(204).send();
    });

    app.post<{ Body: { token: string; login: string; password: string } }>(
      '/setup',
      {
        config: { access: 'public' },
        schema: {
          summary: 'First start: create the owner with the one-time setup token printed at start-up',
          tags: ['session'],
          body: objectSchema({ token: { type: 'string', minLength: 1, maxLength: 200 }, login: addressString, password: passwordString }, ['token', 'login', 'password'])
        }
      },
      async (request, reply) => {
        const expected = ctx.setupToken;
        if (expected === null || (await countOwners(db)) > 0) throw errors.setupClosed();
        const sent = Buffer.from(request.body.token);
        if (sent.length !== expected.length || !crypto.timingSafeEqual(sent, Buffer.from(expected))) {
          ctx.limiter.recordFailure(request.ip, null);
          throw errors.setupToken();
        }
        const owner = await createFirstOwner(db, policy, { name: 'setup', ip: request.ip }, request.body.login, request.body.password);
        ctx.setupToken = null;
        ctx.services.log.info({ owner: owner.login, ip: request.ip }, 'owner created through the setup link');
        reply.code(201);
        return startSession(request, reply, owner);
      }
    );

    app.put<{ Body: { currentPassword: string; newPassword: string } }>(
      '/session/password',
      {
        config: { access: 'admin' },
        schema: {
          summary: "Change the logged-in admin user's own password (ends their other sessions)",
          tags: ['session'],
          body: objectSchema({ currentPassword: passwordString, newPassword: passwordString }, ['currentPassword', 'newPassword'])
        }
      },
      async (request, reply) => {
        const p = sessionOnly(request.principal);
        if (!(await verifyAdmin(db, p.admin.login, request.body.currentPassword))) throw invalid('currentPassword', 'match', 'the current password is wrong');
        await setAdminPassword(db, policy, actorOf(p, request.ip), p.admin.login, request.body.newPassword, p.sessionId);
        return reply.code(204).send();
      }
    );

    app.post('/session/totp', { config: { access: 'admin' }, schema: { summary: 'Start setting up a TOTP second factor: returns the secret and otpauth:// URI', tags: ['session'] } }, async (request) => {
      const p = sessionOnly(request.principal);
      const secret = await beginTotp(db, p.admin.id);
      return { secret, uri: totpUri(secret, `Postfach ${ctx.services.config.hostname}`, p.admin.login) };
    });

    app.post<{ Body: { code: string } }>(
      '/session/totp/confirm',
      { config: { access: 'admin' }, schema: { summary: 'Confirm the second factor with a code; logins need a code from then on', tags: ['session'], body: objectSchema({ code: totpCode }, ['code']) } },
      async (request, reply) => {
        const p = sessionOnly(request.principal);
        await confirmTotp(db, actorOf(p, request.ip), p.admin.id, request.body.code, ctx.now());
        return reply.code(204).send();
      }
    );

    app.delete<{ Body: { code: string } }>(
      '/session/totp',
      { config: { access: 'admin' }, schema: { summary: 'Turn the own second factor off (needs a current code)', tags: ['session'], body: objectSchema({ code: totpCode }, ['code']) } },
      async (request, reply) => {
        const p = sessionOnly(request.principal);
        if (!p.admin.totp_secret) throw invalid('code', 'enabled', 'no second factor is set up');
        if (!(await verifyTotp(db, p.admin, request.body.code, ctx.now()))) throw errors.invalidTotp();
        await disableTotp(db, actorOf(p, request.ip), p.admin.login);
        return reply.code(204).send();
      }
    );
  };
}
