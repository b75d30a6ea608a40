// The container's start-up path without a container engine: the Dockerfile is read for its runtime settings (stages,
// user, volume, ports, environment, entry point, health check), and the same command starts the `npm run build`
// output with the same environment (ports moved to free ones, the data folder to a temp one); its HEALTHCHECK command
// reports healthy; SIGTERM (docker stop) ends it with exit code 0 and the health check then fails.
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { tempDir } from '../helpers/server.js';
import { startServe, type ServeProcess } from '../helpers/serve-process.js';

const run = promisify(execFile);

interface Dockerfile {
  stages: string[];
  /** instructions of the first (build) stage: [keyword, rest of the line] */
  build: Array<[string, string]>;
  /** instructions of the last (runtime) stage */
  runtime: Array<[string, string]>;
  env: Record<string, string>;
}

function readDockerfile(): Dockerfile {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: string[] = [];
  const instructions: Array<Array<[string, string]>> = [];
  for (const line of lines) {
    const [keyword, ...rest] = line.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') {
      stages.push(rest.join(' '));
      instructions.push([]);
    }
    instructions.at(-1)!.push([keyword.toUpperCase(), rest.join(' ')]);
  }
  const runtime = instructions.at(-1)!;
  const env: Record<string, string> = {};
  for (const [keyword, rest] of runtime) if (keyword === 'ENV') for (const m of rest.matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1]] = m[2];
  return { stages, build: instructions[0], runtime, env };
}

const instruction = (file: Dockerfile, keyword: string, stage: 'build' | 'runtime' = 'runtime') => file[stage].filter(([k]) => k === keyword).map(([, rest]) => rest);

/** What `docker build` sends: the top-level entries .dockerignore (plain names and `*.suffix`) leaves in. */
function buildContext(): Set<string> {
  const patterns = fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const ignored = (name: string) => patterns.some((p) => (p.startsWith('*') ? name.endsWith(p.slice(1)) : name === p));
  return new Set(fs.readdirSync(REPO_ROOT).filter((name) => !ignored(name)));
}

/** COPY sources (from the build context, not --from another stage) and their destination. */
function copies(file: Dockerfile, stage: 'build' | 'runtime'): Array<{ sources: string[]; dest: string }> {
  return instruction(file, 'COPY', stage)
    .filter((rest) => !rest.startsWith('--from'))
    .map((rest) => rest.split(/\s+/))
    .map((parts) => ({ sources: parts.slice(0, -1), dest: parts.at(-1)! }));
}
const execForm = (rest: string): string[] => JSON.parse(rest.slice(rest.indexOf('[')));

let docker: Dockerfile;
let dns: TestDnsServer;
let dataDir: string;
let serve: ServeProcess | undefined;

beforeAll(async () => {
  docker = readDockerfile();
  dns = await startDnsServer({});
  dataDir = tempDir('postfach-production-');
}); // dist/ is current: test/global-setup.ts

afterAll(async () => {
  await serve?.stop('SIGKILL');
  await dns?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('the Dockerfile', () => {
  it('builds in one stage and runs from node:20-bookworm-slim as the user postfach with the data folder as a volume', () => {
    expect(docker.stages).toEqual(['node:20-bookworm-slim AS build', 'node:20-bookworm-slim']);
    expect(instruction(docker, 'USER')).toEqual(['postfach']);
    expect(instruction(docker, 'VOLUME')).toEqual(['/var/lib/postfach']);
    expect(docker.env.POSTFACH_DATA_DIR).toBe('/var/lib/postfach');
    const exposed = instruction(docker, 'EXPOSE').join(' ').split(/\s+/).map(Number);
    for (const port of [25, 465, 587, 143, 993, 110, 995, 8080]) expect(exposed).toContain(port);
    // the environment sets the standard ports, each to a listener the config knows
    expect(docker.env).toMatchObject({ POSTFACH_SMTP_PORT: '25', POSTFACH_SUBMISSION_PORT: '587', POSTFACH_SUBMISSIONS_PORT: '465', POSTFACH_IMAP_PORT: '143', POSTFACH_IMAPS_PORT: '993', POSTFACH_HTTP_PORT: '8080' });
    expect(instruction(docker, 'RUN').join(' ')).toContain('setcap cap_net_bind_service=+ep');
    expect(fs.readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n')).toEqual(expect.arrayContaining(['node_modules', 'dist', 'data', '.git']));
  });

  it('copies into its build stage everything `npm run build` reads, and into the runtime stage what it needs from the context', async () => {
    // the build stage as Docker runs it, minus the container: its COPY lines from the context .dockerignore leaves,
    // the dependencies it installed (here: ours), then its `npm run build`
    const context = buildContext();
    const stage = tempDir('postfach-docker-build-');
    try {
      for (const { sources, dest } of copies(docker, 'build')) {
        for (const source of sources) {
          expect(context, `${source} is in the build context`).toContain(source);
          const target = dest.endsWith('/') || sources.length > 1 || dest === './' ? path.join(stage, dest, path.basename(source)) : path.join(stage, dest);
          fs.cpSync(path.join(REPO_ROOT, source), target, { recursive: true });
        }
      }
      fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(stage, 'node_modules'));
      expect(instruction(docker, 'RUN', 'build').join(' ')).toContain('npm run build');
      await run('npm', ['run', 'build'], { cwd: stage, timeout: 120_000 });
      expect(fs.existsSync(path.join(stage, 'dist/server/main.js'))).toBe(true);
      expect(fs.existsSync(path.join(stage, 'dist/admin-ui/index.html'))).toBe(true);
      for (const { sources } of copies(docker, 'runtime')) for (const source of sources) expect(context, `${source} is in the build context`).toContain(source);
    } finally {
      fs.rmSync(stage, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('the container start-up path without a container', () => {
  it('starts `node dist/server/main.js serve` with the image environment, passes its HEALTHCHECK, and stops cleanly on SIGTERM', async () => {
    const [entry] = instruction(docker, 'ENTRYPOINT').map(execForm);
    const [cmd] = instruction(docker, 'CMD').map(execForm);
    expect([...entry, ...cmd]).toEqual(['node', 'dist/server/main.js', 'serve']);
    const health = execForm(instruction(docker, 'HEALTHCHECK')[0]);
    expect(health.slice(0, 3)).toEqual(['node', 'dist/server/main.js', 'healthcheck']);

    // the image's environment; ports on free loopback ports instead of the standard ones, data in a temp folder
    const env: Record<string, string> = { ...docker.env, POSTFACH_DATA_DIR: dataDir, POSTFACH_BIND: '127.0.0.1', POSTFACH_HOSTNAME: 'mx.postfach.test', POSTFACH_DNS_SERVERS: dns.address };
    for (const name of Object.keys(env)) if (/^POSTFACH_.*_PORT$/.test(name)) env[name] = '0';
    env.POSTFACH_POP3_PORT = '-1';
    env.POSTFACH_POP3S_PORT = '-1';
    // WORKDIR is the installed package's root: the repository, where dist/ was built
    serve = await startServe(env, entry.slice(1), { cwd: REPO_ROOT });
    expect(serve.output()).toContain('Postfach is running');
    expect(Object.keys(serve.ports).sort()).toEqual(['http', 'imap', 'imaps', 'smtp', 'submission', 'submissions']);

    const healthEnv = { ...process.env, ...env, POSTFACH_HTTP_PORT: String(serve.ports.http) };
    const healthy = await run(process.execPath, health.slice(1), { cwd: REPO_ROOT, env: healthEnv });
    expect(healthy.stdout).toMatch(/^200 \{"status":"ok","database":"ok","listeners":\{"smtp":true,"submission":true,"submissions":true,"imap":true,"imaps":true,"http":true\}/);

    const { code } = await serve.stop('SIGTERM');
    expect(code).toBe(0);
    serve = undefined;
    await expect(run(process.execPath, health.slice(1), { cwd: REPO_ROOT, env: healthEnv })).rejects.toMatchObject({ code: 1, stdout: expect.stringMatching(/^unreachable: connect ECONNREFUSED/) });
  });
});
