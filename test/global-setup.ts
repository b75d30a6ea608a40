// Vitest global setup: the built server (dist/server) and admin UI (dist/admin-ui) are current before any test runs.
// Child processes run the built `postfach` (as operators and the container do, and four times faster to start than
// under tsx); `npm ci` builds both (prepare), and a source edited since is rebuilt here once.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function newestMtime(entry: string): number {
  const stat = fs.statSync(entry);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...fs.readdirSync(entry).filter((name) => name !== 'node_modules' && name !== 'dist').map((name) => newestMtime(path.join(entry, name))));
}

/** Whether `output` is missing or older than any of `sources`. */
function stale(output: string, sources: string[]): boolean {
  const target = path.join(ROOT, output);
  return !fs.existsSync(target) || fs.statSync(target).mtimeMs < Math.max(...sources.map((s) => newestMtime(path.join(ROOT, s))));
}

export default function setup(): void {
  const bin = (name: string) => path.join(ROOT, 'node_modules', '.bin', name);
  if (stale('dist/server/main.js', ['server', 'plugins', 'package.json', 'tsconfig.build.json'])) {
    execFileSync(bin('tsc'), ['-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' });
  }
  if (stale('dist/admin-ui/index.html', ['admin-ui', 'server/directory/password-policy.ts', 'server/api-types.ts'])) {
    execFileSync(bin('vite'), ['build', 'admin-ui', '--logLevel', 'warn'], { cwd: ROOT, stdio: 'inherit' });
  }
}
