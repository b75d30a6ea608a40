// mailauth ships no type declarations; Postfach wraps it in server/mailauth/ and types the results there.
declare module 'mailauth' {
  export function authenticate(input: unknown, options: Record<string, unknown>): Promise<any>;
  export function sealMessage(input: unknown, options: Record<string, unknown>): Promise<Buffer>;
}
declare module 'mailauth/lib/dkim/sign.js' {
  export function dkimSign(input: unknown, options: Record<string, unknown>): Promise<any>;
}
declare module 'mailauth/lib/spf/index.js' {
  export function spf(options: Record<string, unknown>): Promise<any>;
}
