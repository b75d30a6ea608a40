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
  /** instructions of the last (runtime) stage: [keyword, rest of the line] */
  runtime: Array<[string, string]>;
  env: Record<string, string>;
}

function readDockerfile(): Dockerfile {
  const text = fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages: string[] = [];
  let runtime: Array<[string, string]> = [];
  for (const line of lines) {
    const [keyword, ...rest] = line.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') {
      stages.push(rest.join(' '));
      runtime = [];
    }
    runtime.push([keyword.toUpperCase(), rest.join(' ')]);
  }
  const env: Record<string, string> = {};
  for (const [keyword, rest] of runtime) if (keyword === 'ENV') for (const m of rest.matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1]] = m[2];
  return { stages, runtime, env };
}

const instruction = (file: Dockerfile, keyword: string) => file.runtime.filter(([k]) => k === keyword).map(([, rest]) => rest);
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
