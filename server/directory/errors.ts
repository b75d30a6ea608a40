// Typed directory errors: each names the field and the rule it broke, so the CLI and the admin API can say so.
export type DirectoryErrorKind = 'invalid' | 'not_found' | 'conflict';

export class DirectoryError extends Error {
  constructor(
    readonly kind: DirectoryErrorKind,
    readonly field: string,
    readonly rule: string,
    message: string
  ) {
    super(message);
    this.name = 'DirectoryError';
  }
}

export const invalid = (field: string, rule: string, message: string) => new DirectoryError('invalid', field, rule, message);
export const notFound = (field: string, message: string) => new DirectoryError('not_found', field, 'exists', message);
export const conflict = (field: string, message: string) => new DirectoryError('conflict', field, 'unique', message);
