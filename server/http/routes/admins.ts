// Admin users and API tokens (owner only) and the audit log (owner only).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createAdmin, disableTotp, listAdmins, removeAdmin, setAdminPassword } from '../../directory/admins.js';
import { createApiToken, listApiTokens, revokeApiToken } from '../../directory/api-tokens.js';
import { listAudit } from '../../directory/audit.js';
import { actorOf, type HttpContext } from '../context.js';
import { addressString, loginParams, objectSchema, passwordString } from '../schemas.js';
import { adminView, auditView } from '../views.js';

const role = { type: 'string', enum: ['owner', 'admin'] } as const;

export function adminRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    const { db } = ctx.services;
    const policy = ctx.services.accounts.policy;
    const actor = (request: FastifyRequest) => actorOf(request.principal, request.ip);

    app.get('/admins', { schema: { summary: 'Admin users and their roles', tags: ['admin users'] } }, async () => ({ admins: (await listAdmins(db)).map(adminView) }));

    app.post<{ Body: { login: string; password: string; role: 'owner' | 'admin' } }>(
      '/admins',
      {
        schema: {
          summary: 'Add an admin user: role admin resets passwords and reads; role owner may do everything',
          tags: ['admin users'],
          body: objectSchema({ login: addressString, password: passwordString, role }, ['login', 'password', 'role'])
        }
      },
      async (request, reply) => {
        const admin = await createAdmin(db, policy, actor(request), request.body);
        reply.code(201);
        return { admin: adminView(admin) };
      }
    );

    app.delete<{ Params: { login: string } }>(
      '/admins/:login',
      { schema: { summary: 'Remove an admin user (their sessions end, their tokens are revoked; the last owner stays)', tags: ['admin users'], params: loginParams } },
      async (request, reply) => {
        await removeAdmin(db, actor(request), request.params.login);
        return reply.code(204).send();
      }
    );

    app.post<{ Params: { login: string }; Body: { password: string } }>(
      '/admins/:login/password',
      {
        schema: {
          summary: "Reset an admin user's password (their sessions end)",
          tags: ['admin users'],
          params: loginParams,
          body: objectSchema({ password: passwordString }, ['password'])
        }
      },
      async (request, reply) => {
        await setAdminPassword(db, policy, actor(request), request.params.login, request.body.password);
        return reply.code(204).send();
      }
    );

    app.delete<{ Params: { login: string } }>(
      '/admins/:login/totp',
      { schema: { summary: "Turn off an admin user's second factor (lost phone)", tags: ['admin users'], params: loginParams } },
      async (request, reply) => {
        await disableTotp(db, actor(request), request.params.login);
        return reply.code(204).send();
      }
    );

    app.get('/tokens', { schema: { summary: 'API tokens (never the secrets)', tags: ['API tokens'] } }, async () => ({ tokens: await listApiTokens(db) }));

    app.post<{ Body: { name: string; role?: 'owner' | 'admin' } }>(
      '/tokens',
      {
        schema: {
          summary: 'Create an API token: the secret is in this answer only; send it as Authorization: Bearer <token>',
          tags: ['API tokens'],
          body: objectSchema({ name: { type: 'string', minLength: 1, maxLength: 100 }, role }, ['name'])
        }
      },
      async (request, reply) => {
        const p = request.principal;
        const createdBy = p?.via === 'session' ? p.admin.id : (p?.admin?.id ?? null);
        const { token, view } = await createApiToken(db, actor(request), { name: request.body.name, role: request.body.role ?? 'owner', createdBy });
        reply.code(201);
        return { token, ...view };
      }
    );

    app.delete<{ Params: { id: number } }>(
      '/tokens/:id',
      { schema: { summary: 'Revoke an API token (takes effect on its next request)', tags: ['API tokens'], params: objectSchema({ id: { type: 'integer', minimum: 1 } }, ['id']) } },
      async (request, reply) => {
        await revokeApiToken(db, actor(request), request.params.id);
        return reply.code(204).send();
      }
    );

    app.get<{ Querystring: { limit?: number; before?: number; target?: string; actor?: string } }>(
      '/audit',
      {
        schema: {
          summary: 'The audit log, newest first: who changed what, when, from which address',
          tags: ['audit'],
          querystring: objectSchema({
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
            before: { type: 'integer', minimum: 1, description: 'entries with a smaller id (the next page)' },
            target: { type: 'string', maxLength: 320 },
            actor: { type: 'string', maxLength: 320 }
          })
        }
      },
      async (request) => {
        const { limit = 100, before, target, actor: who } = request.query;
        const entries = await listAudit(db, { limit, before, target, actor: who });
        return { entries: entries.map(auditView), next: entries.length === limit ? entries[entries.length - 1].id : null };
      }
    );
  };
}
