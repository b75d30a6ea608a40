// The outbound queue: what waits for delivery and why (owner and admin may look), retry now and delete (owner).
import type { FastifyInstance } from 'fastify';
import { deleteQueued, listQueueViews, retryQueued } from '../../queue/admin.js';
import { actorOf, type HttpContext } from '../context.js';
import { objectSchema } from '../schemas.js';

const idParams = objectSchema({ id: { type: 'integer', minimum: 1 } }, ['id']);

export function queueRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    const { db, blobs, queue } = ctx.services;

    app.get<{ Querystring: { limit?: number } }>(
      '/queue',
      {
        config: { access: 'admin' },
        schema: {
          summary: 'Messages waiting for delivery: one entry per message and recipient domain, with attempts and the last error',
          tags: ['queue'],
          querystring: objectSchema({ limit: { type: 'integer', minimum: 1, maximum: 1000 } })
        }
      },
      async (request) => ({ entries: await listQueueViews(db, request.query.limit) })
    );

    app.post(
      '/queue/retry',
      { schema: { summary: 'Try every queued entry now instead of waiting for its next attempt', tags: ['queue'] } },
      async (request) => {
        const entries = await retryQueued(db, actorOf(request.principal, request.ip), 'all');
        queue.kick();
        return { entries };
      }
    );

    app.post<{ Params: { id: number } }>(
      '/queue/:id/retry',
      { schema: { summary: 'Try one queued entry now', tags: ['queue'], params: idParams } },
      async (request) => {
        const entries = await retryQueued(db, actorOf(request.principal, request.ip), request.params.id);
        queue.kick();
        return { entries };
      }
    );

    app.delete<{ Params: { id: number } }>(
      '/queue/:id',
      { schema: { summary: 'Remove a queued entry without delivering it and without notifying the sender', tags: ['queue'], params: idParams } },
      async (request, reply) => {
        await deleteQueued(db, blobs, actorOf(request.principal, request.ip), request.params.id);
        return reply.code(204).send();
      }
    );
  };
}
