// Postfach's version, from the package.json above this module: two levels up from server/ in the source tree, three from dist/server/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageJson(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

export const VERSION: string = JSON.parse(fs.readFileSync(findPackageJson(path.dirname(fileURLToPath(import.meta.url))), 'utf8')).version;
