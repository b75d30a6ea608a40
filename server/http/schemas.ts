// JSON Schema pieces the routes share: fastify validates requests with them and /api/docs publishes them.
export const addressString = { type: 'string', minLength: 3, maxLength: 320, description: 'e-mail address; domain in Unicode or punycode' } as const;
export const passwordString = { type: 'string', minLength: 1, maxLength: 1024 } as const;

export function objectSchema(properties: Record<string, unknown>, required: string[] = []) {
  return { type: 'object', additionalProperties: false, properties, required } as const;
}

export const addressParams = objectSchema({ address: addressString }, ['address']);
export const domainParams = objectSchema({ name: { type: 'string', minLength: 1, maxLength: 253 } }, ['name']);
export const loginParams = objectSchema({ login: addressString }, ['login']);
