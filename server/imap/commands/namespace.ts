// NAMESPACE (RFC 2342, RFC 9051 §6.3.10): one personal namespace with "/" as delimiter, no shared ones.
import type { CommandSpec } from '../session.js';

export const namespace: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session) {
    session.write('* NAMESPACE (("" "/")) NIL NIL\r\n');
  }
};
