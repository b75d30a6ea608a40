// The health verdict for /healthz and the container's HEALTHCHECK: the database answers and every listener is bound.
import type net from 'node:net';
import { databaseAnswers, type DatabaseHandle } from '../db/connect.js';

export interface HealthReport {
  status: 'ok' | 'failing';
  database: 'ok' | 'failing';
  /** listener name -> bound and accepting */
  listeners: Record<string, boolean>;
  uptimeSeconds: number;
}

const started = Date.now();

export function checkHealth(database: Pick<DatabaseHandle, 'sqlite'>, listeners: ReadonlyMap<string, net.Server>): HealthReport {
  const db = databaseAnswers(database);
  const bound: Record<string, boolean> = {};
  for (const [name, server] of listeners) bound[name] = server.listening;
  const ok = db && Object.values(bound).every(Boolean);
  return { status: ok ? 'ok' : 'failing', database: db ? 'ok' : 'failing', listeners: bound, uptimeSeconds: Math.round((Date.now() - started) / 1000) };
}
