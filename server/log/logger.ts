// The pino root logger; modules take child({ module }) and sessions child({ cid }). Secrets are redacted.
import { pino, type Logger } from 'pino';

export type { Logger };

/** Paths whose values never reach a log line (STYLE.md §7). */
export const REDACTED_PATHS = [
  'password',
  '*.password',
  'pass',
  '*.pass',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'headers.cookie',
  'privateKey',
  '*.privateKey'
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { app: 'postfach' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' }
    },
    destination ?? pino.destination({ dest: 2, sync: false })
  );
}
