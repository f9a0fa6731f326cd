// The TCP transport's write path (docs/CPU.md): replies answered in one turn
// of the event loop leave in one socket write per connection, still in
// request order, on both framings; a reply answered later is written on its
// own turn. Real sockets on loopback; the server's writes are counted on the
// sockets it accepted.
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { TcpServer } from '../../../src/transport/tcp.js';
import { TcpClient } from '../../../src/transport/client.js';
import { DEFAULT_LIMITS } from '../../../src/transport/framing.js';
import { waitFor } from '../../helpers/wait.js';

let servers: TcpServer[] = [];
let clients: TcpClient[] = [];
const realWrite = net.Socket.prototype.write;
afterEach(async () => {
  net.Socket.prototype.write = realWrite;
  for (const c of clients) c.close();
  await Promise.all(servers.map((s) => s.close(500)));
  servers = []; clients = [];
});

/** Counts writes made by sockets whose local port is `port` (the server's side). */
function countServerWrites(port: () => number): { n: number } {
  const count = { n: 0 };
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    if (this.localPort === port()) count.n++;
    return (realWrite as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof realWrite;
  return count;
}

async function serve(handler: (req: unknown) => Promise<unknown>): Promise<number> {
  const s = new TcpServer({ ...DEFAULT_LIMITS, host: '127.0.0.1', port: 0, maxConnections: 8, maxInFlight: 1024 }, handler);
  servers.push(s);
  return s.listen();
}

describe('TCP write path', () => {
  it.each(['json', 'binary'] as const)('replies answered in one turn leave in one write, in request order (%s)', async (mode) => {
    // Every request is held until all 40 are in, then all are answered at
    // once (in reverse order, so the write order is the transport's doing).
    const N = 40;
    const held: Array<{ req: { i: number }; resolve: (r: unknown) => void }> = [];
    let port = 0;
    port = await serve((req) => new Promise((resolve) => {
      held.push({ req: req as { i: number }, resolve });
      if (held.length === N) for (const h of [...held].reverse()) h.resolve({ status: 'OK', i: h.req.i });
    }));
    const client = await TcpClient.connect('127.0.0.1', port, mode);
    clients.push(client);
    const writes = countServerWrites(() => port);
    const replies = await Promise.all(Array.from({ length: N }, (_, i) => client.request({ i })));
    expect(replies.map((r) => r.i)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(writes.n).toBe(1);
  });

  it('a reply answered in a later turn is written in its own write', async () => {
    let port = 0;
    port = await serve((req) => new Promise((resolve) => setTimeout(() => resolve({ status: 'OK', i: (req as { i: number }).i }), 5 * (req as { i: number }).i)));
    const client = await TcpClient.connect('127.0.0.1', port, 'json');
    clients.push(client);
    const writes = countServerWrites(() => port);
    const replies = await Promise.all([1, 2, 3].map((i) => client.request({ i })));
    expect(replies.map((r) => r.i)).toEqual([1, 2, 3]);
    expect(writes.n).toBe(3);
  });

  it('a shutdown begun after a reply is answered but before it is flushed still delivers it', async () => {
    let answer: (r: unknown) => void = () => {};
    let inHandler = false;
    const s = new TcpServer({ ...DEFAULT_LIMITS, host: '127.0.0.1', port: 0, maxConnections: 8, maxInFlight: 1024 }, () => new Promise((r) => { answer = r; inHandler = true; }));
    const port = await s.listen();
    const client = await TcpClient.connect('127.0.0.1', port, 'json');
    clients.push(client);
    const reply = client.request({ i: 1 });
    await waitFor('the request in the handler', () => inHandler);
    // The reply is filled in a microtask; close() starts in a later one of the
    // same turn, before the flush (process.nextTick) has run.
    answer({ status: 'OK', i: 1 });
    await null; await null; await null;
    const closed = s.close(2000);
    expect(await reply).toMatchObject({ status: 'OK', i: 1 });
    await closed;
  });
});
