// Mail client autoconfiguration over HTTP: Thunderbird (/.well-known/autoconfig/… and autoconfig.<domain>/mail/…),
// Outlook autodiscover (POST or GET …/autodiscover.xml), both public and only for hosted domains; and the Apple
// configuration profile of one account for admin users.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { requireAccount } from '../../directory/accounts.js';
import { normalizeAddress } from '../../directory/address.js';
import { findDomain } from '../../directory/domains.js';
import { appleProfile, autodiscoverAddress, autodiscoverError, autodiscoverResponse, thunderbirdConfig } from '../autoconfig.js';
import type { HttpContext } from '../context.js';
import { HttpError } from '../errors.js';
import { addressParams } from '../schemas.js';

/** An autodiscover request is a few hundred bytes of XML. */
const REQUEST_LIMIT = 16 * 1024;

const notHosted = (reply: FastifyReply) => reply.code(404).type('text/plain; charset=utf-8').send('No mail service for this domain here\n');

export function autoconfigRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    const { db, config } = ctx.services;

    /** The domain when it is hosted here and active; the answers say nothing about whether an account exists. */
    const hosted = async (name: string): Promise<string | null> => {
      const domain = await findDomain(db, name).catch(() => undefined);
      return domain?.active ? domain.name : null;
    };

    // Outlook sends text/xml, some clients nothing or something else: the body is read as text and searched
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: REQUEST_LIMIT }, (_request, body, done) => done(null, body));

    const thunderbird = async (request: FastifyRequest<{ Querystring: { emailaddress?: string } }>, reply: FastifyReply) => {
      const address = request.query.emailaddress;
      // at autoconfig.<domain> or <domain>/.well-known the host names the domain when no address is given (behind a
      // proxy with http.trustProxy: X-Forwarded-Host)
      const name = address !== undefined ? (normalizeAddress(address)?.domain ?? '') : request.hostname.replace(/:\d+$/, '').replace(/^autoconfig\./i, '');
      const domain = name ? await hosted(name) : null;
      if (!domain) return notHosted(reply);
      return reply.type('application/xml; charset=utf-8').send(thunderbirdConfig(domain, config.hostname, ctx.endpoints()));
    };
    const thunderbirdSchema = {
      config: { access: 'public' as const },
      schema: { querystring: { type: 'object', properties: { emailaddress: { type: 'string', maxLength: 320 } } } }
    };
    app.get<{ Querystring: { emailaddress?: string } }>('/.well-known/autoconfig/mail/config-v1.1.xml', thunderbirdSchema, thunderbird);
    app.get<{ Querystring: { emailaddress?: string } }>('/mail/config-v1.1.xml', thunderbirdSchema, thunderbird);

    const autodiscover = async (address: string | null | undefined, reply: FastifyReply) => {
      reply.type('text/xml; charset=utf-8');
      const parsed = address ? normalizeAddress(address) : null;
      if (!parsed) return reply.code(400).send(autodiscoverError(600, 'Invalid Request: no EMailAddress'));
      if (!(await hosted(parsed.domain))) return notHosted(reply);
      return reply.send(autodiscoverResponse(parsed.address, config.hostname, ctx.endpoints()));
    };
    // Outlook asks for both spellings of the path
    for (const path of ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml']) {
      app.post<{ Body: string }>(path, { config: { access: 'public' } }, (request, reply) => autodiscover(autodiscoverAddress(typeof request.body === 'string' ? request.body : ''), reply));
      app.get<{ Querystring: { email?: string; emailaddress?: string } }>(
        path,
        { config: { access: 'public' }, schema: { querystring: { type: 'object', properties: { email: { type: 'string', maxLength: 320 }, emailaddress: { type: 'string', maxLength: 320 } } } } },
        (request, reply) => autodiscover(request.query.emailaddress ?? request.query.email, reply)
      );
    }

    app.get<{ Params: { address: string } }>(
      '/api/v1/accounts/:address/apple-profile',
      {
        config: { access: 'admin' },
        schema: {
          summary: 'Apple configuration profile (.mobileconfig) that sets up the mailbox on an iPhone, iPad or Mac; no password inside',
          tags: ['accounts'],
          params: addressParams
        }
      },
      async (request, reply) => {
        const account = await requireAccount(db, request.params.address);
        const profile = appleProfile({ address: account.address, displayName: account.display_name }, config.hostname, ctx.endpoints());
        if (!profile) throw new HttpError(409, 'conflict', 'no IMAP or POP3 and no submission listener is configured, so there is nothing to set up', 'address', 'listeners');
        return reply
          .type('application/x-apple-aspen-config')
          .header('content-disposition', `attachment; filename="${account.address.replace(/[^A-Za-z0-9@._-]/g, '_')}.mobileconfig"`)
          .send(profile);
      }
    );
  };
}
