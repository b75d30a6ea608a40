// `npm run bench [name…]`: runs the benchmarks and prints their figures. Env: BENCH_N, BENCH_C (inbound), BENCH_IMAP_N, BENCH_IDLE (imap), BENCH_HTTP_ACCOUNTS, BENCH_HTTP_N (http), BENCH_QUEUE_N (queue), BENCH_METRICS_N (metrics), BENCH_POP3_N, BENCH_POP3_KB (pop3), BENCH_IMPORT_N, BENCH_IMPORT_KB (import), BENCH_PLUGINS, BENCH_PLUGINS_N (plugins).
import { benchHttp } from './http.js';
import { benchImap } from './imap.js';
import { benchImport } from './import.js';
import { benchInbound } from './inbound.js';
import { benchMetrics } from './metrics.js';
import { benchPop3 } from './pop3.js';
import { benchQueue } from './queue.js';
import { benchPlugins } from './plugins.js';

const benchmarks: Record<string, () => Promise<Record<string, number | string>>> = {
  inbound: () =>
    benchInbound({
      messages: Number(process.env.BENCH_N ?? 2000),
      connections: Number(process.env.BENCH_C ?? 20),
      sizeKb: 10
    }),
  imap: () =>
    benchImap({
      messages: Number(process.env.BENCH_IMAP_N ?? 100_000),
      idleConnections: Number(process.env.BENCH_IDLE ?? 5000)
    }),
  http: () =>
    benchHttp({
      accounts: Number(process.env.BENCH_HTTP_ACCOUNTS ?? 2000),
      messages: Number(process.env.BENCH_HTTP_N ?? 20_000),
      concurrency: 10,
      seconds: 5
    }),
  queue: () => benchQueue({ messages: Number(process.env.BENCH_QUEUE_N ?? 1000), connections: 5, sizeKb: 10 }),
  metrics: () => benchMetrics({ messages: Number(process.env.BENCH_METRICS_N ?? 1_000_000), scrapes: 200 }),
  pop3: () => benchPop3({ messages: Number(process.env.BENCH_POP3_N ?? 5000), sizeKb: Number(process.env.BENCH_POP3_KB ?? 20) }),
  import: () => benchImport({ messages: Number(process.env.BENCH_IMPORT_N ?? 2000), sizeKb: Number(process.env.BENCH_IMPORT_KB ?? 10) }),
  plugins: () => benchPlugins({ plugins: Number(process.env.BENCH_PLUGINS ?? 10), iterations: 20_000, messages: Number(process.env.BENCH_PLUGINS_N ?? 500) })
};

const wanted = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(benchmarks);
for (const name of wanted) {
  const run = benchmarks[name];
  if (!run) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benchmarks).join(', ')}`);
    process.exit(2);
  }
  const result = await run();
  console.log(JSON.stringify(result));
  for (const [k, v] of Object.entries(result)) console.log(`  ${k.padEnd(20)} ${v}`);
}
