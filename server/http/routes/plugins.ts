// The loaded plugins and their hooks (owner and admin may look); each plugin's own routes live under /plugins/<name>.
import type { FastifyInstance } from 'fastify';
import type { HttpContext } from '../context.js';

export function pluginRoutes(ctx: HttpContext) {
  return async (app: FastifyInstance) => {
    app.get(
      '/plugins',
      {
        config: { access: 'admin' },
        schema: { summary: 'Loaded plugins in load order, with each hook they registered, its priority and timeout', tags: ['plugins'] }
      },
      async () => ({ plugins: ctx.services.plugins.describe() })
    );
  };
}
