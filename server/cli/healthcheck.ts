// `postfach healthcheck`: asks the running server's GET /healthz on loopback (the container's HEALTHCHECK, and for
// operators' monitoring scripts): exit 0 when it answers 200, 1 otherwise, with the answer on standard output.
import http from 'node:http';
import https from 'node:https';
import type { Config } from '../config/schema.js';

const TIMEOUT_MS = 5000;

export async function healthcheckCommand(config: Config): Promise<number> {
  if (config.http.port <= 0) {
    process.stderr.write('postfach: healthcheck: the HTTP listener is off (http.port); /healthz cannot be asked\n');
    return 1;
  }
  // the server's own certificate may be self-signed or for its public name: on loopback, the answer is what counts
  const client = config.http.tls ? https : http;
  const host = config.bind === '0.0.0.0' ? '127.0.0.1' : config.bind === '::' ? '::1' : config.bind;
  return new Promise((resolve) => {
    const request = client.get({ host, port: config.http.port, path: '/healthz', timeout: TIMEOUT_MS, rejectUnauthorized: false }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        process.stdout.write(`${response.statusCode} ${body}\n`);
        resolve(response.statusCode === 200 ? 0 : 1);
      });
    });
    request.on('timeout', () => request.destroy(new Error(`no answer within ${TIMEOUT_MS} ms`)));
    request.on('error', (err) => {
      process.stdout.write(`unreachable: ${err.message}\n`);
      resolve(1);
    });
  });
}
