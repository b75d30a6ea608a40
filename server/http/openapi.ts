// The OpenAPI 3.1 document at /api/docs, collected from the routes' own schemas so it cannot drift from them.
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { Access } from './context.js';

interface RouteSchema {
  summary?: string;
  description?: string;
  tags?: string[];
  body?: unknown;
  querystring?: { properties?: Record<string, unknown>; required?: string[] };
  params?: { properties?: Record<string, unknown>; required?: string[] };
}

type Operation = Record<string, unknown>;

const ERROR_SCHEMA = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      required: ['status', 'code', 'message'],
      properties: {
        status: { type: 'integer' },
        code: { type: 'string', description: 'stable machine-readable code, e.g. invalid, not_found, conflict, forbidden, csrf, locked' },
        message: { type: 'string' },
        field: { type: 'string', description: 'the request field at fault' },
        rule: { type: 'string', description: 'the rule it broke, e.g. required, minLength, unique' },
        violations: { type: 'array', items: { type: 'object', properties: { rule: { type: 'string' }, message: { type: 'string' } } } },
        retryAfter: { type: 'integer' },
        reply: { type: 'string', description: 'the SMTP reply when the MX refused a test message' }
      }
    }
  }
};

const ACCESS_TEXT: Record<Access, string> = {
  public: 'No login needed.',
  admin: 'Any admin user (role owner or admin).',
  owner: 'Owner only; an admin user gets 403.'
};

function parameters(where: 'path' | 'query', schema: RouteSchema['params']): Operation[] {
  return Object.entries(schema?.properties ?? {}).map(([name, s]) => ({ name, in: where, required: where === 'path' || Boolean(schema?.required?.includes(name)), schema: s }));
}

/** Collects every /api/ route as it is registered; call before the routes are added. */
export function collectOpenApi(app: FastifyInstance, info: { version: string }): () => Record<string, unknown> {
  const paths: Record<string, Record<string, Operation>> = {};
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!route.url.startsWith('/api/v1/')) return;
    const schema = (route.schema ?? {}) as RouteSchema;
    const access: Access = (route.config as { access?: Access } | undefined)?.access ?? 'owner';
    const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
    for (const method of [route.method].flat()) {
      if (method === 'HEAD') continue;
      const operation: Operation = {
        summary: schema.summary,
        description: [schema.description, ACCESS_TEXT[access]].filter(Boolean).join('\n\n'),
        tags: schema.tags,
        'x-access': access,
        parameters: [...parameters('path', schema.params), ...parameters('query', schema.querystring)],
        responses: {
          '2XX': { description: 'success (JSON; 204 has no body)' },
          '4XX': { description: 'refused; the body names the field and the rule', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }
        },
        security: access === 'public' ? [] : [{ session: [], csrf: [] }, { token: [] }]
      };
      if (schema.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schema.body } } };
      (paths[path] ??= {})[method.toLowerCase()] = operation;
    }
  });
  return () => ({
    openapi: '3.1.0',
    info: {
      title: 'Postfach admin API',
      version: info.version,
      description:
        'Manage domains, mailboxes, aliases, forwards and admin users. Log in with POST /api/v1/session (cookie; send the returned csrfToken as X-CSRF-Token on every change) or send an API token as Authorization: Bearer. Errors are JSON: {"error": {"status", "code", "message", "field", "rule"}}.'
    },
    servers: [{ url: '/' }],
    paths,
    components: {
      schemas: { Error: ERROR_SCHEMA },
      securitySchemes: {
        session: { type: 'apiKey', in: 'cookie', name: 'postfach_session' },
        csrf: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
        token: { type: 'http', scheme: 'bearer' }
      }
    }
  });
}
