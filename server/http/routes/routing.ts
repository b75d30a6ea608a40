// Aliases (more addresses for one account) and forwards (a hosted address whose mail goes elsewhere, with or without a copy).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { checkHostedAddress, displayAddress } from '../../directory/address.js';
import { addAlias, addForward, listAliases, listForwards, removeAlias, removeForward, type ForwardView } from '../../directory/routing.js';
import { actorOf, type HttpContext } from '../context.js';
import { addressString, objectSchema } from '../schemas.js';

const forwardView = (f: ForwardView) => ({ source: displayAddress(f.source), destinations: f.destinations.map(displayAddress), keepCopy: f.keepCopy });
const destinations = { type: 'array', minItems: 1, maxItems: 50, items: addressString } as const;

export function routingRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    const { db } = ctx.services;
    const actor = (request: FastifyRequest) => actorOf(request.principal, request.ip);

    app.get<{ Querystring: { account?: string } }>(
      '/aliases',
      { config: { access: 'admin' }, schema: { summary: 'Aliases, optionally of one account', tags: ['aliases'], querystring: objectSchema({ account: addressString }) } },
      async (request) => ({ aliases: (await listAliases(db, request.query.account)).map((a) => ({ address: displayAddress(a.address), account: displayAddress(a.account) })) })
    );

    app.post<{ Body: { address: string; account: string } }>(
      '/aliases',
      { schema: { summary: 'Add an alias: mail to it lands in the account', tags: ['aliases'], body: objectSchema({ address: addressString, account: addressString }, ['address', 'account']) } },
      async (request, reply) => {
        await addAlias(db, actor(request), request.body.address, request.body.account);
        const { address } = checkHostedAddress('address', request.body.address);
        reply.code(201);
        return { alias: (await listAliases(db)).filter((a) => a.address === address).map((a) => ({ address: displayAddress(a.address), account: displayAddress(a.account) }))[0] };
      }
    );

    app.delete<{ Params: { address: string } }>(
      '/aliases/:address',
      { schema: { summary: 'Remove an alias (a catch-all pointing at it is cleared)', tags: ['aliases'], params: objectSchema({ address: addressString }, ['address']) } },
      async (request, reply) => {
        await removeAlias(db, actor(request), request.params.address);
        return reply.code(204).send();
      }
    );

    app.get<{ Querystring: { source?: string } }>(
      '/forwards',
      { config: { access: 'admin' }, schema: { summary: 'Forwards with their destinations', tags: ['forwards'], querystring: objectSchema({ source: addressString }) } },
      async (request) => ({ forwards: (await listForwards(db, request.query.source)).map(forwardView) })
    );

    app.post<{ Body: { source: string; destinations: string[]; keepCopy?: boolean } }>(
      '/forwards',
      {
        schema: {
          summary: 'Forward a hosted address (an account, or an address of its own) to one or more destinations; adds to an existing forward',
          description: 'keepCopy: the account keeps a copy in its own mailbox as well.',
          tags: ['forwards'],
          body: objectSchema({ source: addressString, destinations, keepCopy: { type: 'boolean' } }, ['source', 'destinations'])
        }
      },
      async (request, reply) => {
        await addForward(db, actor(request), request.body.source, request.body.destinations, request.body.keepCopy);
        reply.code(201);
        return { forward: forwardView((await listForwards(db, request.body.source))[0]) };
      }
    );

    app.put<{ Params: { source: string }; Body: { destinations: string[]; keepCopy: boolean } }>(
      '/forwards/:source',
      {
        schema: {
          summary: 'Set the whole forward: exactly these destinations, keep a copy or not',
          tags: ['forwards'],
          params: objectSchema({ source: addressString }, ['source']),
          body: objectSchema({ destinations, keepCopy: { type: 'boolean' } }, ['destinations', 'keepCopy'])
        }
      },
      async (request) => {
        await addForward(db, actor(request), request.params.source, request.body.destinations, request.body.keepCopy, true);
        return { forward: forwardView((await listForwards(db, request.params.source))[0]) };
      }
    );

    app.delete<{ Params: { source: string }; Querystring: { destination?: string } }>(
      '/forwards/:source',
      {
        schema: {
          summary: 'Remove the forward, or only one destination (?destination=)',
          tags: ['forwards'],
          params: objectSchema({ source: addressString }, ['source']),
          querystring: objectSchema({ destination: addressString })
        }
      },
      async (request, reply) => {
        await removeForward(db, actor(request), request.params.source, request.query.destination);
        return reply.code(204).send();
      }
    );
  };
}
