// Fuzzing the wire (fast-check): generated bad inputs — malformed JSON,
// NaN/Infinity/1e400, wrong types, deep nesting, huge arrays and strings,
// __proto__/constructor keys, invalid UTF-8, truncated and oversized frames,
// unknown commands and fields — as cycles and commands over TCP JSON, binary
// frames and HTTP. FUZZ_RUNS inputs in all (5,000 in `npm test`; 100,000 in
// `npm run fuzz`). Every input is followed on its connection by a barrier
// request, so each one is shown answered (the barrier's reply comes back
// after it) or its stream closed by the server after an ERROR reply — never
// "no reply within a few milliseconds". After them: the server still serves,
// every reply carried a stable code, the production model (promoted before
// the run) has the same weights, no weight is non-finite, and the quarantine
// on disk holds exactly the experiences the engine rejected.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import fc from 'fast-check';
import net from 'node:net';
import { tmpDir } from '../helpers/tmp.js';
import { server } from '../helpers/server.js';
import { TcpClient, HttpClient } from '../../src/transport/client.js';
import { BINARY_PREFACE, encodeFrame } from '../../src/transport/framing.js';
import { pack } from '../../src/transport/codec.js';
import { readQuarantine } from '../../src/monitor/quarantine.js';
import { weightsSha256 } from '../../src/kernel/model.js';
import { ERROR_CODES } from '../../src/errors.js';
import type { RunningServer } from '../../src/server.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 5000);
const STATUSES = new Set(['OK', 'REJECTED', 'ERROR', 'REQUIRED_CONFIRMATION']);

let s: RunningServer;
let cleanup: () => void;
const tally = { replies: 0, byCode: new Map<string, number>(), closed: 0, answered: 0 };
/** Decode errors: the server answers them with ERROR and closes that stream (docs/PROTOCOL.md §1). */
const CLOSING = new Set(['E_BAD_JSON', 'E_TOO_LARGE', 'E_TOO_DEEP', 'E_BAD_MSGPACK']);
let productionSha = '';

beforeAll(async () => {
  const t = tmpDir();
  cleanup = t.cleanup;
  s = await server(t.dir, { config: { max_cycles_per_s: 0, engine: { max_agents: 10_000 } } });
  const c = await TcpClient.connect('127.0.0.1', s.tcpPort!);
  // A production model (forced in) and a learning candidate, so both sets of
  // weights are exposed to the fuzzed traffic.
  expect(await c.request({ type: 'REGISTER_MODEL', operator_id: 'fuzz', metadata: { version: 'P1', architecture: 'mlp', hidden: 8, init: 'random' } })).toMatchObject({ status: 'OK' });
  expect(await c.request({ type: 'SET_CANDIDATE_MODEL', operator_id: 'fuzz', version: 'P1' })).toMatchObject({ status: 'OK' });
  const p1 = await c.request({ type: 'PROMOTE_CANDIDATE', operator_id: 'fuzz', force: true });
  expect(await c.request({ type: 'PROMOTE_CANDIDATE', operator_id: 'fuzz', force: true, confirmation_token: p1.confirmation_token })).toMatchObject({ status: 'OK', active_model: 'P1' });
  expect(await c.request({ type: 'END_WATCH', operator_id: 'fuzz' })).toMatchObject({ status: 'OK' }); // every agent on P1, and a candidate may be set
  expect(await c.request({ type: 'REGISTER_MODEL', operator_id: 'fuzz', metadata: { version: 'F1', architecture: 'mlp', hidden: 8 } })).toMatchObject({ status: 'OK' });
  expect(await c.request({ type: 'SET_CANDIDATE_MODEL', operator_id: 'fuzz', version: 'F1' })).toMatchObject({ status: 'OK' });
  c.close();
  productionSha = weightsSha256((await s.sidecar.engine.snapshotProduction())!);
});
afterAll(async () => { await s.close(); cleanup(); });

function check(reply: unknown): void {
  tally.replies++;
  expect(typeof reply === 'object' && reply !== null).toBe(true);
  const r = reply as { status?: string; error?: { code?: string }; replies?: unknown[] };
  expect(STATUSES.has(r.status as string), JSON.stringify(reply).slice(0, 300)).toBe(true);
  if (r.status === 'ERROR' || r.status === 'REJECTED') {
    const code = r.error?.code as string;
    expect(code in ERROR_CODES, `unknown code ${code}`).toBe(true);
    tally.byCode.set(code, (tally.byCode.get(code) ?? 0) + 1);
  }
  if (Array.isArray(r.replies)) for (const x of r.replies) check(x);
}

const BARRIER_JSON = Buffer.from('{"type":"HEARTBEAT"}\n');
const BARRIER_BIN = encodeFrame(pack({ type: 'HEARTBEAT' }));

/** Requests the server will see in `bytes` sent as JSON lines: the non-blank lines (a blank line is skipped). */
function jsonRequests(bytes: Buffer): number {
  return bytes.toString('utf8').split('\n').slice(0, -1).filter((l) => l.replace(/\r$/, '').trim() !== '').length;
}

/**
 * Sends raw bytes on a fresh connection, then a barrier (a HEARTBEAT), and
 * collects replies until every request has been answered — `expected` of the
 * input plus the barrier — or the server closed the connection. Then checks
 * the one of the two outcomes the protocol allows: all answered, the last
 * being the barrier's OK; or closed by the server after at least one reply,
 * the last an ERROR with a stream-closing code. A deadline (15 s) fails the
 * input rather than taking silence for an answer.
 */
function exchange(bytes: Buffer, binary: boolean, expected: number, opts: { barrier?: boolean; endAfter?: boolean; splitAt?: number } = {}): Promise<unknown[]> {
  const barrier = opts.barrier !== false;
  const want = expected + (barrier ? 1 : 0);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port: s.tcpPort! });
    sock.setNoDelay(true);
    let buf = Buffer.alloc(0);
    const out: unknown[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      sock.destroy();
      try {
        if (out.length === want && !opts.endAfter) {
          if (barrier) expect(out.at(-1), 'the barrier is answered last').toMatchObject({ status: 'OK', type: 'HEARTBEAT' });
          tally.answered++;
        } else {
          expect(closed, `${out.length} of ${want} replies and the connection still open`).toBe(true);
          tally.closed++;
          if (opts.endAfter && want === 0) expect(out).toEqual([]); // nothing was due: our FIN closed it
          else {
            expect(out.length, 'a stream is closed only after an ERROR reply').toBeGreaterThan(0);
            const last = out.at(-1) as { status?: string; error?: { code?: string } };
            expect(last.status).toBe('ERROR');
            expect(CLOSING.has(last.error?.code as string), `closed after ${JSON.stringify(last).slice(0, 200)}`).toBe(true);
          }
        }
        for (const r of out) check(r);
        resolve(out);
      } catch (e) { reject(e); }
    };
    const deadline = setTimeout(() => { done = true; sock.destroy(); reject(new Error(`no answer and no close within 15 s: ${out.length} of ${want} replies`)); }, 15_000);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (binary) {
        while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
          const n = buf.readUInt32BE(0);
          out.push(JSON.parse(JSON.stringify((globalThis as any).__unpack(buf.subarray(4, 4 + n)))));
          buf = buf.subarray(4 + n);
        }
      } else {
        let nl: number;
        while ((nl = buf.indexOf(10)) >= 0) { out.push(JSON.parse(buf.subarray(0, nl).toString('utf8'))); buf = buf.subarray(nl + 1); }
      }
      if (out.length >= want && !opts.endAfter) finish(false);
    });
    sock.on('close', () => finish(true));
    sock.on('error', () => { /* a reset by the server after an error reply: 'close' follows */ });
    sock.on('connect', () => {
      const tail = barrier ? (binary ? BARRIER_BIN : BARRIER_JSON) : Buffer.alloc(0);
      const all = Buffer.concat([binary ? BINARY_PREFACE : Buffer.alloc(0), bytes, tail]);
      const at = opts.splitAt === undefined ? all.length : (binary ? BINARY_PREFACE.length : 0) + opts.splitAt;
      // The rest goes in a later write, usually a later chunk for the server.
      sock.write(all.subarray(0, at), () => setImmediate(() => { if (!done) sock.write(all.subarray(at)); if (opts.endAfter) sock.end(); }));
    });
  });
}

// Values that break naive parsers and validators.
const weird = fc.oneof(
  fc.constantFrom(NaN, Infinity, -Infinity, 1e308, -1e308, 5e-324, -0, 2 ** 53 + 1, '', '1e400', 'NaN', '__proto__', null, true, [], {}),
  fc.double(), fc.integer(), fc.string({ maxLength: 40 }), fc.boolean(),
);
const hostileKeys = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf');
const stateArb = fc.oneof(
  fc.dictionary(fc.oneof(fc.constantFrom('health', 'energy', 'target_distance', 'timestamp', 'is_floor_ahead', 'selected_slot'), hostileKeys, fc.string({ maxLength: 8 })), weird, { maxKeys: 8 }),
  weird, fc.array(weird, { maxLength: 5 }),
);
const resultArb = fc.oneof(weird, fc.record({
  status: weird, safety_flags: fc.oneof(weird, fc.dictionary(fc.oneof(hostileKeys, fc.constantFrom('violation', 'is_blocked')), weird)),
  outcomes: fc.oneof(weird, fc.dictionary(fc.oneof(hostileKeys, fc.constantFrom('damage_dealt', 'damage_received', 'is_alive', 'action_wasted')), weird)),
}, { requiredKeys: [] }));
const cycleArb = fc.record({
  agent_id: fc.oneof(fc.constantFrom('a', 'b', 'c'), weird, fc.string({ minLength: 100, maxLength: 300 })),
  state: stateArb, intent_taken: fc.oneof(fc.constantFrom('MOVE', 'HOLD', 'STOP', 'FLY'), weird), result: resultArb,
  state_version: weird, extra: weird,
}, { requiredKeys: [] });
const commandArb = fc.record({
  type: fc.oneof(fc.constantFrom('HEARTBEAT', 'REGISTER_MODEL', 'SET_CANDIDATE_MODEL', 'SET_CANARY_RATIO', 'PROMOTE_CANDIDATE', 'ROLLBACK_MODEL',
    'UNRELEASE_LOCKDOWN', 'RESET_FAILURE_STATUS', 'GET_MODEL', 'LIST_MODELS', 'LIST_INCIDENTS', 'NOPE', '__proto__'), fc.string({ maxLength: 20 })),
  operator_id: fc.oneof(fc.constant('fuzz'), weird), confirmation_token: fc.oneof(weird, fc.string({ maxLength: 60, unit: fc.constantFrom(...'0123456789abcdef.') })),
  metadata: fc.oneof(weird, fc.record({ version: fc.oneof(fc.string({ maxLength: 70 }), weird), architecture: weird, hidden: weird }, { requiredKeys: [] })),
  version: weird, ratio: weird, force: weird, bypass_safety_cap: weird, weights: fc.oneof(weird, fc.record({ w1: fc.array(fc.array(weird, { maxLength: 14 }), { maxLength: 9 }), b1: fc.array(weird, { maxLength: 9 }) })),
  auth: weird,
}, { requiredKeys: ['type'] });
const deep = fc.integer({ min: 20, max: 200 }).map((d) => '{"state":' + '['.repeat(d) + ']'.repeat(d) + '}');
const rawJson = fc.oneof(
  fc.string({ maxLength: 200 }), deep, fc.constantFrom('{"state":{"health":NaN}}', '{"state":{"health":1e400}}', '{"state": {', '{"type":', '[]', 'null', '"x"', '{}{}', '{"state":{}}}'),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from('{"state":{"h":"'), Buffer.from(b), Buffer.from('"}}')]).toString('latin1')),
);

type Case =
  | { kind: 'tcp-obj'; v: unknown } | { kind: 'tcp-raw'; v: string } | { kind: 'bin-obj'; v: unknown } | { kind: 'bin-raw'; v: Uint8Array }
  | { kind: 'http-obj'; v: unknown; path: string } | { kind: 'utf8'; v: Uint8Array } | { kind: 'huge'; n: number } | { kind: 'truncated'; v: unknown; rest: boolean };

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(cycleArb, commandArb, fc.record({ cycles: fc.array(cycleArb, { maxLength: 4 }) })).map((v) => ({ kind: 'tcp-obj' as const, v })) },
  { weight: 3, arbitrary: rawJson.map((v) => ({ kind: 'tcp-raw' as const, v })) },
  { weight: 3, arbitrary: fc.oneof(cycleArb, commandArb).map((v) => ({ kind: 'bin-obj' as const, v })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((v) => ({ kind: 'bin-raw' as const, v })) },
  { weight: 3, arbitrary: fc.tuple(fc.oneof(cycleArb, commandArb), fc.constantFrom('/v1/cycle', '/v1/command')).map(([v, path]) => ({ kind: 'http-obj' as const, v, path })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 32 }).map((v) => ({ kind: 'utf8' as const, v })) },
  { weight: 1, arbitrary: fc.constantFrom(10_000, 300_000, (1 << 20) + 100).map((n) => ({ kind: 'huge' as const, n })) },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(cycleArb, commandArb), fc.boolean()).map(([v, rest]) => ({ kind: 'truncated' as const, v, rest })) },
);

describe(`fuzzing the wire (${RUNS} inputs)`, () => {
  it('every reply carries a stable code, the server keeps serving, weights stay finite, quarantine matches', { timeout: 60_000 + RUNS * 20 }, async () => {
    const { unpack } = await import('../../src/transport/codec.js');
    (globalThis as any).__unpack = unpack;
    const tcp = await TcpClient.connect('127.0.0.1', s.tcpPort!);
    const bin = await TcpClient.connect('127.0.0.1', s.tcpPort!, 'binary');
    const http = new HttpClient('127.0.0.1', s.httpPort!, 4);
    let n = 0;
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      n++;
      switch (c.kind) {
        case 'tcp-obj': check(await tcp.request(c.v)); break;
        case 'bin-obj': check(await bin.request(c.v)); break;
        case 'http-obj': { const r = c.path === '/v1/cycle' ? await http.cycle(c.v) : await http.command(c.v); check(r.body); expect([200, 400, 403, 404, 409, 413, 429, 503]).toContain(r.status); break; }
        case 'tcp-raw': { const b = Buffer.from(c.v + '\n', 'latin1'); await exchange(b, false, jsonRequests(b)); break; }
        case 'utf8': { const b = Buffer.concat([Buffer.from('{"state":{"x":"'), Buffer.from(c.v), Buffer.from('"}}\n')]); await exchange(b, false, 1); break; }
        case 'bin-raw': await exchange(encodeFrame(c.v), true, 1); break;
        case 'huge': await exchange(Buffer.from(JSON.stringify({ state: { health: 0.5 }, big: 'x'.repeat(c.n), arr: new Array(Math.min(c.n, 50_000)).fill(1) }) + '\n'), false, 1); break;
        case 'truncated': {
          // An incomplete frame is kept for the rest: followed by the rest and
          // the barrier it is answered (one reply, then the barrier's); left
          // incomplete and our side closed, nothing is due and the server
          // closes without a reply.
          const frame = encodeFrame(pack(c.v));
          const cut = Math.max(1, frame.length - 3);
          if (c.rest) await exchange(frame, true, 1, { splitAt: cut });
          else await exchange(frame.subarray(0, cut), true, 0, { barrier: false, endAfter: true });
          break;
        }
      }
      if (n % 500 === 0) expect(await tcp.request({ type: 'HEARTBEAT' })).toMatchObject({ status: 'OK' });
    }), { numRuns: RUNS, seed: 20261126 });
    // Still serving, on every transport, to new connections too, and no
    // connection left behind by the ones the server closed.
    expect(tally.byCode.get('E_TOO_MANY_CONNECTIONS') ?? 0).toBe(0);
    const fresh = await TcpClient.connect('127.0.0.1', s.tcpPort!);
    expect(await fresh.request({ agent_id: 'after', state: { health: 1 } })).toMatchObject({ status: 'OK' });
    fresh.close();
    expect(await tcp.request({ agent_id: 'after', state: { health: 1 } })).toMatchObject({ status: 'OK' });
    expect(await bin.request({ type: 'HEARTBEAT' })).toMatchObject({ status: 'OK' });
    expect((await http.cycle({ state: { health: 1 } })).status).toBe(200);
    tcp.close(); bin.close(); http.close();
    // The production model is still the one promoted before the run, with
    // the same weights; no weight of it or of the candidate is non-finite.
    const e = s.sidecar.engine;
    const prod = await e.snapshotProduction(), cand = await e.snapshotCandidate();
    expect(e.productionVersion).toBe('P1');
    expect(prod).not.toBeNull();
    expect(cand).not.toBeNull();
    expect(weightsSha256(prod!)).toBe(productionSha);
    for (const p of [prod!, cand!]) { expect(p.body.length).toBeGreaterThan(0); expect(p.body.every(Number.isFinite)).toBe(true); }
    expect(tally.answered).toBeGreaterThan(0);
    expect(tally.closed).toBeGreaterThan(0);
    // The quarantine on disk holds exactly what the engine rejected.
    await s.sidecar.quarantine.close();
    expect(readQuarantine(s.sidecar.paths.quarantine).length).toBe(e.stats.quarantined);
    expect(s.sidecar.quarantine.total).toBe(e.stats.quarantined);
    console.log(`fuzz: ${n} inputs, ${tally.replies} replies, ${tally.answered} raw streams answered to the barrier, ${tally.closed} closed by the server, ${e.stats.quarantined} quarantined; codes ${JSON.stringify(Object.fromEntries(tally.byCode))}`);
  });
});
