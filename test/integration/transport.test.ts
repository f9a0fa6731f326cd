// The wire protocol over real loopback sockets.
import { describe, it, expect, afterEach } from 'vitest';
import net from 'node:net';
import { tmpDir } from '../helpers/tmp.js';
import { waitFor, within } from '../helpers/wait.js';
import { server } from '../helpers/server.js';
import { TcpClient, HttpClient } from '../../src/transport/client.js';
import { BINARY_PREFACE, encodeFrame } from '../../src/transport/framing.js';
import { pack, unpack } from '../../src/transport/codec.js';
import type { RunningServer } from '../../src/server.js';

let cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => { for (const c of cleanups.reverse()) await c(); cleanups = []; });
async function up(extra = {}): Promise<RunningServer> {
  const t = tmpDir();
  const s = await server(t.dir, extra);
  cleanups.push(t.cleanup, () => s.close());
  return s;
}
async function tcp(s: RunningServer, mode: 'json' | 'binary' = 'json'): Promise<TcpClient> {
  const c = await TcpClient.connect('127.0.0.1', s.tcpPort!, mode);
  cleanups.push(() => c.close());
  return c;
}
const STATE = { health: 0.9, target_distance: 12 };

/** Connects, writes bytes, and collects what comes back until the server closes. */
function rawExchange(port: number, bytes: Buffer | string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(bytes));
    let text = '';
    s.on('data', (d) => { text += d.toString('latin1'); });
    const t = setTimeout(() => { s.destroy(); resolve({ text, closed: false }); }, 15_000); // a deadline: a close comes far sooner
    s.on('close', () => { clearTimeout(t); resolve({ text, closed: true }); });
    s.on('error', () => {});
  });
}

describe('TCP, newline-delimited JSON', () => {
  it('pipelines many requests on one connection and answers in order', async () => {
    const s = await up();
    const c = await tcp(s);
    const rs = await Promise.all(Array.from({ length: 300 }, (_, i) => c.request(i % 50 === 0 ? { type: 'HEARTBEAT' } : { agent_id: `a${i % 7}`, state: STATE })));
    const cycles = rs.filter((r) => r.cycle_id !== undefined).map((r) => r.cycle_id as number);
    expect(cycles).toEqual([...cycles].sort((a, b) => a - b));
    expect(rs.filter((r) => r.type === 'HEARTBEAT').length).toBe(6);
    expect(rs.every((r) => r.status === 'OK')).toBe(true);
  });

  it("answers a first request that is a bare JSON object (no newline), then ends the connection: the runbook's clients read to EOF", async () => {
    const s = await up();
    for (const req of [{ agent_id: 'bare', state: STATE }, { type: 'HEARTBEAT' }]) {
      const { text, closed } = await rawExchange(s.tcpPort!, JSON.stringify(req));
      expect(closed).toBe(true);
      const lines = text.split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toMatchObject({ status: 'OK' });
    }
    expect(s.tcp!.stats.badFrames).toBe(0);
  });

  it.each([0, 20])("keeps a connection whose first object and its newline come in separate writes (%i ms apart): not a one-shot client, its next request is answered", async (gap) => {
    const s = await up();
    const sock = net.connect({ host: '127.0.0.1', port: s.tcpPort! });
    cleanups.push(() => { sock.destroy(); });
    let ended = false;
    sock.on('end', () => { ended = true; });
    sock.on('error', () => {});
    const lines: string[] = [];
    sock.on('data', (d) => lines.push(...d.toString().split('\n').filter(Boolean)));
    await new Promise((r) => sock.on('connect', r));
    sock.write(JSON.stringify({ agent_id: 'split', state: STATE }));
    if (gap > 0) await new Promise((r) => setTimeout(r, gap));
    sock.write('\n');
    await new Promise((r) => setTimeout(r, 50));
    sock.write(JSON.stringify({ type: 'HEARTBEAT' }) + '\n');
    await waitFor('two replies', () => lines.length >= 2 || ended, 10_000);
    expect(lines.map((l) => JSON.parse(l).status)).toEqual(['OK', 'OK']);
    await new Promise((r) => setTimeout(r, 200));
    expect(ended).toBe(false);
  });

  it('answers a first request without a newline that is not one whole object once it is idle, then ends the connection (a reader to EOF does not hang)', async () => {
    const s = await up();
    const cases: Array<[string, string]> = [['[1,2]', 'E_UNKNOWN_MESSAGE'], ['{"a":1}{"b":2}', 'E_BAD_JSON'], ['{"broken":', 'E_BAD_JSON']];
    const got = await Promise.all(cases.map(([bytes]) => rawExchange(s.tcpPort!, bytes)));
    for (const [i, { text, closed }] of got.entries()) {
      expect(closed).toBe(true);
      const lines = text.split('\n').filter(Boolean);
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0])).toMatchObject({ status: 'ERROR', error: { code: cases[i][1] } });
    }
    expect(s.tcp!.stats.badFrames).toBe(2);
    const c = await tcp(s);
    expect(await c.request({ state: STATE })).toMatchObject({ status: 'OK' });
  });

  it.each([
    ['a bare request', JSON.stringify({ type: 'HEARTBEAT' }), ['OK']],
    ['NDJSON lines, the last without its newline', [1, 2, 3].map((i) => JSON.stringify({ agent_id: `h${i}`, state: STATE })).join('\n'), ['OK', 'OK', 'OK']],
    ['an incomplete request', '{"type": "HEART', ['ERROR']],
  ])('answers a client that shuts down its sending side after %s, then ends the connection', async (_, bytes, statuses) => {
    const s = await up();
    const { text, closed } = await new Promise<{ text: string; closed: boolean }>((resolve) => {
      const sock = net.connect({ host: '127.0.0.1', port: s.tcpPort! }, () => sock.end(bytes)); // write, then FIN
      let t = '';
      sock.on('data', (d) => { t += d.toString(); });
      const timer = setTimeout(() => { sock.destroy(); resolve({ text: t, closed: false }); }, 3000);
      sock.on('close', () => { clearTimeout(timer); resolve({ text: t, closed: true }); });
      sock.on('error', () => {});
    });
    expect(closed).toBe(true);
    expect(text.split('\n').filter(Boolean).map((l) => JSON.parse(l).status)).toEqual(statuses);
  });

  it('keeps NDJSON connections open, also when a later request comes without its newline', async () => {
    const s = await up();
    const sock = net.connect({ host: '127.0.0.1', port: s.tcpPort! });
    cleanups.push(() => { sock.destroy(); });
    let closed = false;
    sock.on('close', () => { closed = true; });
    const lines: string[] = [];
    sock.on('data', (d) => lines.push(...d.toString().split('\n').filter(Boolean)));
    await new Promise((r) => sock.on('connect', r));
    const until = (n: number) => waitFor(`${n} reply line(s)`, () => lines.length >= n);
    sock.write(JSON.stringify({ agent_id: 'nl', state: STATE }) + '\n');
    await until(1);
    sock.write(JSON.stringify({ agent_id: 'nl', state: STATE })); // bare, but not the first request
    await until(2);
    sock.write(JSON.stringify({ type: 'HEARTBEAT' }) + '\n');
    await until(3);
    expect(lines.map((l) => JSON.parse(l).status)).toEqual(['OK', 'OK', 'OK']);
    // Inherent: "stays open" is the absence of a close, shown over a window
    // (200 ms, far longer than the reply-then-end of a one-request client takes).
    await new Promise((r) => setTimeout(r, 200));
    expect(closed).toBe(false);
  });

  it.each([
    ['unparseable JSON', '{"state": {"health": 0.5}\n{oops}\n', 'E_BAD_JSON'],
    ['invalid UTF-8', Buffer.concat([Buffer.from('{"state":{'), Buffer.from([0xff, 0xfe]), Buffer.from('}}\n')]), 'E_BAD_JSON'],
    ['deep nesting', '{"state":' + '['.repeat(40) + ']'.repeat(40) + '}\n', 'E_TOO_DEEP'],
    ['an oversized line', '{"state":{"x":"' + 'x'.repeat((1 << 20) + 10) + '"}}\n', 'E_TOO_LARGE'],
  ])('answers %s with ERROR and closes that stream; the server keeps serving', async (_, bytes, code) => {
    const s = await up();
    const { text, closed } = await rawExchange(s.tcpPort!, bytes);
    const replies = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(replies.at(-1)).toMatchObject({ status: 'ERROR', error: { code } });
    expect(closed).toBe(true);
    const c = await tcp(s);
    expect(await c.request({ state: STATE })).toMatchObject({ status: 'OK' });
    expect(s.tcp!.stats.badFrames).toBe(1);
  });

  it('answers a non-cycle, non-command object with E_UNKNOWN_MESSAGE and keeps the connection', async () => {
    const s = await up();
    const c = await tcp(s);
    expect(await c.request({ hello: 'world' })).toMatchObject({ status: 'ERROR', error: { code: 'E_UNKNOWN_MESSAGE' } });
    expect(await c.request([1, 2])).toMatchObject({ status: 'ERROR', error: { code: 'E_UNKNOWN_MESSAGE' } });
    expect(await c.request({ state: STATE })).toMatchObject({ status: 'OK' });
  });
});

describe('TCP, binary MessagePack frames', () => {
  it('switches on the preface and answers frames with frames', async () => {
    const s = await up();
    const c = await tcp(s, 'binary');
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => c.request({ agent_id: `b${i % 5}`, state: STATE })));
    expect(rs.every((r) => r.status === 'OK' && typeof r.intent === 'string')).toBe(true);
    expect(await c.request({ type: 'HEARTBEAT' })).toMatchObject({ status: 'OK', type: 'HEARTBEAT' });
  });

  it('keeps a partial frame for the next chunk', async () => {
    const s = await up();
    const sock = net.connect({ host: '127.0.0.1', port: s.tcpPort! });
    cleanups.push(() => { sock.destroy(); });
    await new Promise((r) => sock.on('connect', r));
    const chunks: Buffer[] = [];
    sock.on('data', (d) => chunks.push(d));
    const frame = Buffer.concat([BINARY_PREFACE, encodeFrame(pack({ agent_id: 'p', state: STATE }))]);
    // Three bytes at a time, each after the previous one was handed to the
    // kernel (with no delay, so each is a segment of its own).
    sock.setNoDelay(true);
    for (let i = 0; i < frame.length; i += 3) await new Promise<void>((r) => sock.write(frame.subarray(i, i + 3), () => setImmediate(r)));
    const all = await waitFor('the reply frame', () => { const b = Buffer.concat(chunks); return b.length >= 4 && b.length >= 4 + b.readUInt32BE(0) ? b : undefined; });
    expect(all.readUInt32BE(0)).toBe(all.length - 4);
    expect(unpack(all.subarray(4))).toMatchObject({ status: 'OK', agent_id: 'p' });
  });

  it('answers a bad frame with an ERROR frame and closes', async () => {
    const s = await up();
    const bad = Buffer.concat([BINARY_PREFACE, encodeFrame(Buffer.from([0xc1, 0xc1, 0xc1]))]);
    const { closed } = await rawExchange(s.tcpPort!, bad);
    expect(closed).toBe(true);
    const huge = Buffer.alloc(8); BINARY_PREFACE.copy(huge); huge.writeUInt32BE(50 << 20, 4);
    expect((await rawExchange(s.tcpPort!, huge)).closed).toBe(true);
    expect(s.tcp!.stats.badFrames).toBe(2);
  });
});

describe('TCP backpressure', () => {
  it('a client that never reads cannot grow the server queue, and others are still served', async () => {
    const s = await up({ maxInFlightPerConnection: 64 });
    const greedy = net.connect({ host: '127.0.0.1', port: s.tcpPort! });
    cleanups.push(() => { greedy.destroy(); });
    await new Promise((r) => greedy.on('connect', r));
    greedy.pause(); // never reads a reply
    const line = Buffer.from(JSON.stringify({ type: 'HEARTBEAT' }) + '\n');
    const burst = Buffer.concat(Array.from({ length: 20_000 }, () => line));
    greedy.write(burst);
    // Wait until the server has stopped reading the greedy client: its count
    // of requests taken stays put for 300 ms (polled, 15 s at most).
    let last = -1, sameSince = Date.now();
    await waitFor('the server to stop reading the greedy client', () => {
      const n = s.tcp!.stats.requests;
      if (n !== last) { last = n; sameSince = Date.now(); return false; }
      return n > 0 && Date.now() - sameSince >= 300;
    });
    expect(s.tcp!.inFlight).toBeLessThanOrEqual(64);
    expect(s.tcp!.stats.requests).toBeLessThan(20_000); // it stopped reading the greedy client
    const c = await tcp(s);
    // Served while the greedy client is stuck: a generous deadline, not a
    // latency figure (latency is the bench's business).
    expect(await within(10_000, 'a request beside the greedy client', c.request({ state: STATE }))).toMatchObject({ status: 'OK' });
    expect(s.tcp!.stats.requests).toBeLessThan(20_000);
  });
});

describe('HTTP', () => {
  it('serves cycles, batches, commands and heartbeats with the protocol status codes', async () => {
    const s = await up();
    const h = new HttpClient('127.0.0.1', s.httpPort!);
    cleanups.push(() => h.close());
    expect(await h.cycle({ agent_id: 'h', state: STATE })).toMatchObject({ status: 200, body: { status: 'OK', agent_id: 'h' } });
    const batch = await h.cycle({ cycles: [{ agent_id: 'x', state: STATE }, { agent_id: 'y', state: STATE }, { state: 3 }] });
    expect(batch.status).toBe(200);
    expect((batch.body.replies as any[]).map((r) => r.status)).toEqual(['OK', 'OK', 'ERROR']);
    expect(await h.command({ type: 'HEARTBEAT' })).toMatchObject({ status: 200, body: { status: 'OK' } });
    expect(await h.request('GET', '/v1/heartbeat')).toMatchObject({ status: 200, body: { status: 'OK', type: 'HEARTBEAT' } });
    expect(await h.command({ type: 'ROLLBACK_MODEL', operator_id: 'Op-01' })).toMatchObject({ status: 409, body: { error: { code: 'E_NO_ROLLBACK_TARGET' } } });
    expect(await h.command({ type: 'EMERGENCY_LOCKDOWN', operator_id: 'Op-01' })).toMatchObject({ status: 200 });
    expect(await h.command({ type: 'UNRELEASE_LOCKDOWN', operator_id: 'Op-01' })).toMatchObject({ status: 200, body: { status: 'REQUIRED_CONFIRMATION' } });
    expect(await h.command({ type: 'NOPE' })).toMatchObject({ status: 400, body: { error: { code: 'E_UNKNOWN_COMMAND' } } });
    expect(await h.cycle({ type: 'HEARTBEAT' })).toMatchObject({ status: 400, body: { error: { code: 'E_UNKNOWN_MESSAGE' } } });
    expect(await h.request('POST', '/v1/cycle', undefined, { 'content-type': 'application/json' })).toMatchObject({ status: 400, body: { error: { code: 'E_BAD_JSON' } } });
    expect(await h.request('GET', '/nope')).toMatchObject({ status: 404, body: { error: { code: 'E_NOT_FOUND' } } });
    expect(await h.request('GET', '/healthz')).toMatchObject({ status: 200 });
    expect(await h.request('GET', '/readyz')).toMatchObject({ status: 200 });
  });

  it('refuses an oversized body with 413 and keeps serving', async () => {
    const s = await up();
    const head = `POST /v1/cycle HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${(1 << 20) + 1}\r\n\r\n`;
    const { text } = await rawExchange(s.httpPort!, head);
    expect(text).toMatch(/^HTTP\/1.1 413/);
    expect(text).toContain('E_TOO_LARGE');
    const h = new HttpClient('127.0.0.1', s.httpPort!);
    cleanups.push(() => h.close());
    expect(await h.cycle({ state: STATE })).toMatchObject({ status: 200 });
  });

  it('takes MessagePack bodies and answers in MessagePack when asked', async () => {
    const s = await up();
    const body = new Uint8Array(pack({ agent_id: 'm', state: STATE }));
    const res = await fetch(`http://127.0.0.1:${s.httpPort}/v1/cycle`, { method: 'POST', body, headers: { 'content-type': 'application/msgpack', accept: 'application/msgpack' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/msgpack');
    expect(unpack(new Uint8Array(await res.arrayBuffer()))).toMatchObject({ status: 'OK', agent_id: 'm' });
  });
});
