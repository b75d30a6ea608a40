// Where the package's own files are: the folder holding package.json, found from the running code (server/ under tsx,
// dist/server/ when built), so the version and the built admin UI are found either way.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${start}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(path.dirname(fileURLToPath(import.meta.url)));

export const PACKAGE_VERSION: string = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;

/** The admin UI as `npm run build` leaves it (vite build of admin-ui/). */
export const ADMIN_UI_DIR = path.join(PACKAGE_ROOT, 'dist', 'admin-ui');
