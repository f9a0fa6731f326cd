// The error codes no other test produces, each produced for real: a kernel
// that does not link, a region released twice, a closed engine, a corrupt
// state file, a handler that throws, a frame that is not MessagePack, and a
// connection during shutdown.
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { KernelInstance, createSharedMemory } from '../../src/kernel/host.js';
import { Arena } from '../../src/kernel/arena.js';
import { Engine } from '../../src/engine/cycle.js';
import { Sidecar } from '../../src/sidecar.js';
import { TcpServer } from '../../src/transport/tcp.js';
import { DEFAULT_LIMITS, BINARY_PREFACE } from '../../src/transport/framing.js';
import { isSidecarError } from '../../src/errors.js';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });

/** Every line a raw TCP client receives until the server closes the stream. */
function rawLines(port: number, send: Buffer | string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    s.on('data', (d) => { buf += d.toString('latin1'); });
    s.on('end', () => resolve(buf.split('\n').filter(Boolean)));
    s.on('error', reject);
    s.write(send);
  });
}

async function tcp(handler: (req: unknown) => Promise<unknown>, maxConnections = 8): Promise<{ srv: TcpServer; port: number }> {
  const srv = new TcpServer({ ...DEFAULT_LIMITS, host: '127.0.0.1', port: 0, maxConnections, maxInFlight: 8 }, handler);
  const port = await srv.listen();
  cleanups.push(() => srv.close(100));
  return { srv, port };
}

describe('error codes produced for real', () => {
  it('E_KERNEL_LOAD: a kernel that does not link (a memory that is not shared)', () => {
    let err: unknown;
    try { new KernelInstance(new WebAssembly.Memory({ initial: 16, maximum: 16384 })); } catch (e) { err = e; }
    expect(isSidecarError(err, 'E_KERNEL_LOAD')).toBe(true);
  });

  it('E_KERNEL_ARGS: releasing a region of kernel memory that is not allocated', () => {
    const mem = createSharedMemory();
    const k = new KernelInstance(mem);
    const arena = new Arena(mem, k.exports.heapBase());
    const p = arena.alloc(64);
    arena.release(p);
    let err: unknown;
    try { arena.release(p); } catch (e) { err = e; }
    expect(isSidecarError(err, 'E_KERNEL_ARGS')).toBe(true);
  });

  it('E_POOL_CLOSED: a cycle sent to a closed engine', async () => {
    const e = await Engine.create({ config: { pool_threads: 1 } });
    await e.close();
    expect(await e.cycle({ state: {} })).toMatchObject({ status: 'REJECTED', error: { code: 'E_POOL_CLOSED' } });
  });

  it('E_DATA_CORRUPT: a control state file that is not one', async () => {
    const t = tmpDir();
    cleanups.push(t.cleanup);
    mkdirSync(t.dir, { recursive: true });
    writeFileSync(join(t.dir, 'state'), '{"format": "something else"');
    await expect(Sidecar.open({ dataDir: t.dir, checkpointEverySec: 0, config: { engine: { pool_threads: 0 } } })).rejects.toMatchObject({ code: 'E_DATA_CORRUPT' });
  });

  it('E_INTERNAL: a handler that throws is answered, and the server goes on', async () => {
    let n = 0;
    const { port } = await tcp(async () => { if (n++ === 0) throw new Error('boom'); return { status: 'OK' }; });
    const c = net.connect(port, '127.0.0.1');
    cleanups.push(() => { c.destroy(); });
    const lines: string[] = [];
    await new Promise<void>((resolve) => {
      c.on('data', (d) => { lines.push(...d.toString().split('\n').filter(Boolean)); if (lines.length >= 2) resolve(); });
      c.write('{"type":"X"}\n{"type":"Y"}\n');
    });
    expect(JSON.parse(lines[0])).toMatchObject({ status: 'ERROR', error: { code: 'E_INTERNAL', message: 'boom' } });
    expect(JSON.parse(lines[1])).toMatchObject({ status: 'OK' });
  });

  it('E_BAD_MSGPACK: a binary frame that is not one MessagePack object; the stream is closed after the reply', async () => {
    const { port } = await tcp(async () => ({ status: 'OK' }));
    const frame = Buffer.from([0, 0, 0, 2, 0xa5, 0x61]); // a 5-byte string header followed by one byte
    const got = await new Promise<Buffer>((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      s.on('data', (d) => chunks.push(d));
      s.on('end', () => resolve(Buffer.concat(chunks)));
      s.on('error', reject);
      s.write(Buffer.concat([BINARY_PREFACE, frame]));
    });
    const { unpack } = await import('../../src/transport/codec.js');
    expect(unpack(got.subarray(4, 4 + got.readUInt32BE(0)))).toMatchObject({ status: 'ERROR', error: { code: 'E_BAD_MSGPACK' } });
  });

  it('E_TOO_MANY_CONNECTIONS: a connection over maxConnections is answered and closed; the one within the limit is served', async () => {
    const { srv, port } = await tcp(async () => ({ status: 'OK' }), 1);
    const a = net.connect(port, '127.0.0.1');
    cleanups.push(() => { a.destroy(); });
    const aLines: string[] = [];
    a.on('data', (d) => aLines.push(...d.toString().split('\n').filter(Boolean)));
    await new Promise((r) => a.on('connect', r));
    for (let i = 0; i < 500 && srv.stats.connections === 0; i++) await new Promise((r) => setTimeout(r, 10)); // the server has accepted it
    expect(srv.stats.connections).toBe(1);
    const refused = await rawLines(port, '{"type":"HEARTBEAT"}\n');
    expect(refused).toHaveLength(1);
    expect(JSON.parse(refused[0])).toMatchObject({ status: 'REJECTED', error: { code: 'E_TOO_MANY_CONNECTIONS' } });
    expect(srv.stats.refusedConnections).toBe(1);
    a.write('{"type":"HEARTBEAT"}\n');
    for (let i = 0; i < 500 && aLines.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(aLines.map((l) => JSON.parse(l))).toEqual([{ status: 'OK' }]);
  });

  it('E_SHUTTING_DOWN: a connection that arrives while the server drains', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => { release = r; });
    let inFlight = false;
    const { srv, port } = await tcp(async () => { inFlight = true; await held; return { status: 'OK' }; });
    const first = rawLines(port, '{"type":"HEARTBEAT"}\n');
    await waitFor('the first request in the handler', () => inFlight);
    const closing = srv.close(5000);
    const refused = await rawLines(port, '');
    expect(JSON.parse(refused[0])).toMatchObject({ status: 'REJECTED', error: { code: 'E_SHUTTING_DOWN' } });
    release();
    expect(JSON.parse((await first)[0])).toMatchObject({ status: 'OK' });
    await closing;
  });
});
