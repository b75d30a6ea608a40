// COMPRESS=DEFLATE (RFC 4978).
import type { CommandSpec } from '../session.js';
import { atom } from './args.js';
import { bad, no } from '../errors.js';

export const compress: CommandSpec = {
  states: ['authenticated', 'selected'],
  async handler(session, command) {
    if (atom(command.args[0], 'a compression mechanism').toUpperCase() !== 'DEFLATE') throw bad('Only DEFLATE is supported');
    if (session.compressed) throw no('COMPRESSIONACTIVE', 'Compression is already active');
    session.write(`${command.tag} OK DEFLATE active\r\n`);
    session.startCompression();
    return { sent: true };
  }
};
