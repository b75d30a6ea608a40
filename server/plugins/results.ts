// Plugin hook results (Haraka's return codes): continue, ok, deny, denysoft, deny_disconnect, each with an optional
// message; the first result that is not `continue` decides. Validated here so a bad result is a plugin fault.

export const RESULT_CODES = ['continue', 'ok', 'deny', 'denysoft', 'deny_disconnect'] as const;
export type ResultCode = (typeof RESULT_CODES)[number];

export interface HookResult {
  result: ResultCode;
  /** the reply text (deny, denysoft, deny_disconnect) or a note for the trace (continue, ok) */
  message?: string;
  /** deny: a 5xx code instead of 550 (554 at connect); denysoft: a 4xx code instead of 451 (421 at connect) */
  code?: number;
  /** the RFC 3463 enhanced status code to go with `code`, class matching it (5.x.x / 4.x.x) */
  enhanced?: string;
}

/** What a hook function may return: a result, a bare result code, or nothing (= continue). */
export type HookReturn = HookResult | ResultCode | undefined | void;

/** The decision of one hook run: the first non-continue result, or a fault of the plugin that broke. */
export type Outcome =
  | { result: 'continue' }
  | (HookResult & { result: Exclude<ResultCode, 'continue'>; plugin: string })
  | { result: 'fault'; plugin: string; reason: 'timeout' | 'error' };

/** One plugin's result in the trace of a connection or transaction (Received comment, log line). */
export interface HookRecord {
  hook: string;
  plugin: string;
  result: ResultCode | 'fault';
  message?: string;
  /** milliseconds the hook took */
  ms: number;
}

export const CONTINUE: Outcome = Object.freeze({ result: 'continue' });

/** Reply and trace text is US-ASCII on one line (RFC 5321 §4.2, §4.5.3.1.5: a reply line is at most 512 octets). */
export function replyText(text: string): string {
  return text.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 400);
}

const ENHANCED = /^([245])\.\d{1,3}\.\d{1,3}$/;

export class PluginResultError extends Error {
  override name = 'PluginResultError';
}

/** Checks a returned value; throws PluginResultError (a fault of the plugin) for anything that is not a result. */
const CONTINUED: HookResult = Object.freeze({ result: 'continue' });

export function normalizeResult(value: HookReturn): HookResult {
  if (value === undefined || value === null || value === 'continue') return CONTINUED;
  const result: HookResult = typeof value === 'string' ? { result: value } : value;
  if (typeof result !== 'object' || !(RESULT_CODES as readonly string[]).includes(result.result)) {
    throw new PluginResultError(`not a hook result: ${JSON.stringify(value)} (expected one of ${RESULT_CODES.join(', ')})`);
  }
  if (result.code !== undefined || result.enhanced !== undefined) {
    const klass = result.result === 'deny' ? 5 : result.result === 'denysoft' ? 4 : 0;
    if (!klass) throw new PluginResultError(`a reply code only goes with deny or denysoft, not ${result.result}`);
    const code = result.code ?? klass * 100 + 50;
    if (!Number.isInteger(code) || Math.floor(code / 100) !== klass) throw new PluginResultError(`${result.result} needs a ${klass}xx code, not ${result.code}`);
    const m = result.enhanced === undefined ? null : ENHANCED.exec(result.enhanced);
    if (result.enhanced !== undefined && (!m || Number(m[1]) !== klass)) throw new PluginResultError(`${result.result} needs a ${klass}.x.x enhanced code, not ${result.enhanced}`);
  }
  if (result.message !== undefined && typeof result.message !== 'string') throw new PluginResultError('a result message is a string');
  return result;
}

const make =
  (result: ResultCode) =>
  (message?: string): HookResult =>
    message === undefined ? { result } : { result, message };

/** Result constructors for hook functions: `return results.deny('Sender is blocked here')`. */
export const results = {
  /** let the next plugin decide (what returning nothing means) */
  continue: make('continue'),
  /** accept: the remaining plugins of this hook are skipped (at `queue`: the plugin took the message) */
  ok: make('ok'),
  /** refuse for good: 550 5.7.1 (554 at connect), or the given 5xx code */
  deny: (message?: string, reply?: { code?: number; enhanced?: string }): HookResult => ({ ...make('deny')(message), ...reply }),
  /** refuse for now, the sender retries: 451 4.7.1 (421 at connect), or the given 4xx code */
  denysoft: (message?: string, reply?: { code?: number; enhanced?: string }): HookResult => ({ ...make('denysoft')(message), ...reply }),
  /** refuse and close the connection: 554 5.7.1 at connect, 421 4.7.0 later (RFC 5321 §3.8) */
  denyDisconnect: make('deny_disconnect')
};

/** The trace as one line: `rcpt greylist=denysoft "Greylisted"; data_post rspamd=continue "score 1.2"`. */
export function formatTrace(records: readonly HookRecord[]): string {
  return records
    .filter((r) => r.result !== 'continue' || r.message)
    .map((r) => `${r.hook} ${r.plugin}=${r.result}${r.message ? ` "${replyText(r.message).replace(/["()\\]/g, "'")}"` : ''}`)
    .join('; ');
}
