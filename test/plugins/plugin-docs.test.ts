// The plugin documentation stays true: README "Writing a plugin" shows the shipped example plugin and its test
// verbatim, every hook is in the hooks table, and each bundled plugin's README lists every setting with its default.
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HOOK_NAMES } from '../../server/plugins/index.js';
import { pluginMeta } from '../../server/plugins/define.js';
import { allSettings } from '../../server/plugins/settings.js';
import { loadConfig } from '../../server/config/load.js';
import { REPO_ROOT } from '../helpers/cli.js';

const read = (file: string) => fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
const README = read('README.md');
const section = (title: string) => README.slice(README.indexOf(`## ${title}\n`), README.indexOf('\n## ', README.indexOf(`## ${title}\n`) + 3));
const codeBlocks = (text: string) => [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
/** A bundled plugin's module (imported by file URL, as the loader does) */
const bundled = (name: string) => import(/* @vite-ignore */ pathToFileURL(path.join(REPO_ROOT, 'plugins', name, 'index.ts')).href);
const BUNDLED = fs.readdirSync(path.join(REPO_ROOT, 'plugins'), { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);

describe('README "Writing a plugin"', () => {
  it('shows plugins/example/index.ts and test/plugins/example-plugin.test.ts as they are', () => {
    expect(codeBlocks(section('Writing a plugin'))).toEqual([read('plugins/example/index.ts'), read('test/plugins/example-plugin.test.ts')]);
  });

  it('has every hook in the hooks table of "Plugins"', () => {
    for (const hook of HOOK_NAMES) expect(section('Plugins')).toMatch(new RegExp(`^\\| \`${hook}\`|, \`${hook}\`|^\\| \`\\w+\`, \`\\w+\`, \`${hook}\``, 'm'));
  });
});

describe.each(BUNDLED)('bundled plugin %s', (name) => {
  it('declares its folder name, and is listed in plugins/README.md and the README', async () => {
    const module = await bundled(name);
    expect(pluginMeta(module.default)?.name).toBe(name);
    expect(read('plugins/README.md')).toContain(`| [${name}](${name}/README.md) |`);
    expect(section('Plugins')).toContain(`| [${name}](plugins/${name}/README.md) |`);
  });

  it('documents every setting with its default in its README', async () => {
    const module = await bundled(name);
    const readme = read(`plugins/${name}/README.md`);
    for (const setting of allSettings(pluginMeta(module.default)!.settings, loadConfig({ env: {} }))) {
      expect(readme, `${name}: ${setting.key}`).toContain(`| \`${setting.key}\` | \`${JSON.stringify(setting.default)}\` |`);
    }
  });
});
