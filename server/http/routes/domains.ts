// Domains: add (answers with the DNS records to set), list, show, remove when empty, live DNS check, catch-all.
import type { FastifyInstance } from 'fastify';
import { listAccounts } from '../../directory/accounts.js';
import { addDomain, clearCatchAll, listDomains, removeDomain, requireDomain, setCatchAll } from '../../directory/domains.js';
import { checkDomain } from '../../dns/check.js';
import { expectedRecords } from '../../dns/records.js';
import { listenerPorts } from '../client-settings.js';
import { actorOf, type HttpContext } from '../context.js';
import { addressString, domainParams, objectSchema } from '../schemas.js';
import { domainView } from '../views.js';

export function domainRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    const { db, config, resolver } = ctx.services;
    const withRecords = async (name: string) => {
      const domain = await requireDomain(db, name);
      return { domain: domainView(domain, (await listAccounts(db, domain.name)).length), records: expectedRecords(domain, config.hostname, listenerPorts(ctx.endpoints())) };
    };

    app.get('/domains', { config: { access: 'admin' }, schema: { summary: 'Hosted domains with their number of accounts', tags: ['domains'] } }, async () => {
      const [domains, accounts] = await Promise.all([listDomains(db), listAccounts(db)]);
      const counts = new Map<number, number>();
      for (const a of accounts) counts.set(a.domain_id, (counts.get(a.domain_id) ?? 0) + 1);
      return { domains: domains.map((d) => domainView(d, counts.get(d.id) ?? 0)) };
    });

    app.post<{ Body: { name: string } }>(
      '/domains',
      {
        schema: {
          summary: 'Host a domain: generates its DKIM key and answers with the DNS records to set (MX, SPF, DKIM, DMARC, ownership)',
          tags: ['domains'],
          body: objectSchema({ name: { type: 'string', minLength: 1, maxLength: 253 } }, ['name'])
        }
      },
      async (request, reply) => {
        const domain = await addDomain(db, actorOf(request.principal, request.ip), request.body.name, 'name');
        reply.code(201);
        return withRecords(domain.name);
      }
    );

    app.get<{ Params: { name: string } }>('/domains/:name', { config: { access: 'admin' }, schema: { summary: 'One domain and the DNS records to set', tags: ['domains'], params: domainParams } }, async (request) =>
      withRecords(request.params.name)
    );

    app.delete<{ Params: { name: string } }>(
      '/domains/:name',
      { schema: { summary: 'Stop hosting a domain (only when no accounts remain; its aliases and forwards go with it)', tags: ['domains'], params: domainParams } },
      async (request, reply) => {
        await removeDomain(db, actorOf(request.principal, request.ip), request.params.name);
        return reply.code(204).send();
      }
    );

    app.get<{ Params: { name: string } }>(
      '/domains/:name/dns-check',
      {
        config: { access: 'admin' },
        schema: {
          summary: 'Live DNS check: each record ok / missing / wrong / error, with what was found and what is expected',
          description:
            'Problems have stable codes, e.g. domain-does-not-resolve, no-mx, spf-not-including-this-server. Records with required: false (autoconfig, autodiscover, SRV) only help mail clients find their settings.',
          tags: ['domains'],
          params: domainParams
        }
      },
      async (request) => checkDomain(resolver, await requireDomain(db, request.params.name), config.hostname, undefined, listenerPorts(ctx.endpoints()))
    );

    app.put<{ Params: { name: string }; Body: { target: string } }>(
      '/domains/:name/catch-all',
      {
        schema: {
          summary: 'Set the catch-all: mail to addresses of this domain that match nothing else goes to this account',
          tags: ['domains'],
          params: domainParams,
          body: objectSchema({ target: addressString }, ['target'])
        }
      },
      async (request) => {
        await setCatchAll(db, actorOf(request.principal, request.ip), request.params.name, request.body.target);
        return { domain: domainView(await requireDomain(db, request.params.name)) };
      }
    );

    app.delete<{ Params: { name: string } }>('/domains/:name/catch-all', { schema: { summary: 'Remove the catch-all (unknown addresses get 550 5.1.1 again)', tags: ['domains'], params: domainParams } }, async (request, reply) => {
      await clearCatchAll(db, actorOf(request.principal, request.ip), request.params.name);
      return reply.code(204).send();
    });
  };
}
