// Vitest settings: real servers on loopback need generous timeouts; files run in parallel forks.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['./test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // expect.poll waits for a server or a browser to get there; 1 s (vitest's default) is short on a busy machine
    expect: { poll: { timeout: 10_000 } },
    pool: 'forks',
    // vitest's default on 2 cores is one file at a time; most test time is spent waiting on sockets, child processes
    // and deliberate login delays, so three files at once use the cores without starving them
    maxWorkers: 3,
    reporters: ['default', './test/summary-reporter.ts']
  }
});
