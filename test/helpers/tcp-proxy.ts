// Test helper: a TCP proxy on 127.0.0.1 in front of a server, which can slow the server's answers down (so a test can
// act in the middle of a transfer), cut a connection after a number of bytes (a network failure mid-transfer) and rewrite
// what the server says (a server that leaves something out).
import net from 'node:net';

export interface TcpProxy {
  port: number;
  /** connections accepted so far */
  connections: number;
  /** bytes per second from the server to the client; null = as fast as possible */
  throttle: number | null;
  /** the first connection through which this many bytes came from the server is cut (both sides destroyed), once; null = none */
  cutAfter: number | null;
  /** connections cut so far */
  cuts: number;
  /**
   * rewrites each chunk from the server before it reaches the client (a server that answers differently); chunks are
   * as TCP delivers them, so this suits short protocol lines that a server writes in one go; null = unchanged
   */
  rewrite: ((chunk: Buffer) => Buffer) | null;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  const proxy: TcpProxy = { port: 0, connections: 0, throttle: null, cutAfter: null, cuts: 0, rewrite: null, close: async () => undefined };
  const server = net.createServer((client) => {
    proxy.connections++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let relayed = 0;
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      const data = proxy.rewrite ? proxy.rewrite(chunk) : chunk;
      const cutAt = proxy.cutAfter;
      if (cutAt !== null && relayed + data.length >= cutAt) {
        proxy.cutAfter = null;
        client.write(data.subarray(0, Math.max(0, cutAt - relayed)));
        proxy.cuts++;
        end();
        return;
      }
      relayed += data.length;
      if (proxy.throttle) {
        // hold the server back for as long as these bytes take at the throttled rate
        upstream.pause();
        setTimeout(() => upstream.resume(), (data.length / proxy.throttle) * 1000);
      }
      client.write(data);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.port = (server.address() as net.AddressInfo).port;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return proxy;
}
