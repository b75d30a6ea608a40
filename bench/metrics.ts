// Cost of metrics: the counter work one inbound MX message adds (connection opened and closed, message counted),
// measured on the same code the listeners run, and the time of one GET /metrics scrape of a running server.
import { EventEmitter } from 'node:events';
import type net from 'node:net';
import { Metrics } from '../server/metrics/metrics.js';
import { provision, startServer } from '../test/helpers/server.js';

export async function benchMetrics(options: { messages: number; scrapes: number }): Promise<Record<string, number | string>> {
  const metrics = new Metrics();
  const listener = new EventEmitter();
  metrics.trackConnections(listener as unknown as net.Server, 'smtp');
  const perMessage = () => {
    const socket = new EventEmitter();
    listener.emit('connection', socket);
    metrics.messageReceived('smtp');
    socket.emit('close');
  };
  for (let i = 0; i < 10_000; i++) perMessage(); // warm-up
  const started = process.hrtime.bigint();
  for (let i = 0; i < options.messages; i++) perMessage();
  const nsPerMessage = Number(process.hrtime.bigint() - started) / options.messages;

  const server = await startServer({ overrides: { 'http.port': 0 } });
  try {
    await provision(server, 'firma.de', ['info']);
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < options.scrapes; i++) {
      const t = performance.now();
      const response = await fetch(`http://127.0.0.1:${server.ports.http}/metrics`);
      bytes = (await response.text()).length;
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    return {
      benchmark: 'metrics',
      metricNsPerMessage: Math.round(nsPerMessage),
      scrapeMedianMs: Number(times[Math.floor(times.length / 2)].toFixed(2)),
      scrapeP99Ms: Number(times[Math.floor(times.length * 0.99)].toFixed(2)),
      scrapeBytes: bytes
    };
  } finally {
    await server.close();
  }
}
