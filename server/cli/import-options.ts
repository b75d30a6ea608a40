// The options and usage lines of `postfach admin import …`, apart from the command itself so that every other admin
// command starts without loading the importer.
export const IMPORT_VALUE_FLAGS = ['--host', '--port', '--encryption', '--user', '--mapping'];
export const IMPORT_SWITCHES = ['--sync', '--ignore-quota', '--foreground', '--no-verify-certificate', '--retry-failed'];

export const IMPORT_USAGE = `  admin import folders <address> --host H --user U [--port P] [--encryption tls|starttls|none] [--no-verify-certificate] [--password-stdin]
                                          the old provider's folders with counts and the proposed local folder
  admin import start <address> --host H --user U [… as folders] [--mapping FILE] [--sync] [--ignore-quota] [--foreground]
  admin import list [address] | status <id> | stop <id> | remove <id>
  admin import resume <id> [--password-stdin] [--retry-failed] [--ignore-quota] [--foreground]
  admin import sync <id> on|off [--password-stdin]`;
