// The Postfach version from package.json, found by walking up from this module: the same code runs from server/
// under tsx and from dist/server/ after `npm run build`, one folder deeper.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageJson(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'package.json');
    if (fs.existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) throw new Error('package.json of Postfach not found');
  }
}

export const VERSION: string = JSON.parse(fs.readFileSync(findPackageJson(), 'utf8')).version;
