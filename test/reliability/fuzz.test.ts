// Fuzzing the wire (fast-check): generated bad inputs — malformed JSON,
// NaN/Infinity/1e400, wrong types, deep nesting, huge arrays and strings,
// __proto__/constructor keys, invalid UTF-8, truncated and oversized frames,
// unknown commands and fields — as cycles and commands over TCP JSON, binary
// frames and HTTP. FUZZ_RUNS inputs in all (5,000 in `npm test`; 100,000 in
// `npm run fuzz`). After them: the server still serves, every reply carried a
// stable code, no weight is non-finite, and the quarantine on disk holds
// exactly the experiences the engine rejected.
import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import fc from 'fast-check';
import net from 'node:net';
import { tmpDir } from '../helpers/tmp.js';
import { server } from '../helpers/server.js';
import { TcpClient, HttpClient } from '../../src/transport/client.js';
import { BINARY_PREFACE, encodeFrame } from '../../src/transport/framing.js';
import { pack } from '../../src/transport/codec.js';
import { readQuarantine } from '../../src/monitor/quarantine.js';
import { ERROR_CODES } from '../../src/errors.js';
import type { RunningServer } from '../../src/server.js';

const RUNS = Number(process.env.FUZZ_RUNS ?? 5000);
const STATUSES = new Set(['OK', 'REJECTED', 'ERROR', 'REQUIRED_CONFIRMATION']);

let s: RunningServer;
let cleanup: () => void;
const tally = { replies: 0, byCode: new Map<string, number>(), closed: 0 };

beforeAll(async () => {
  const t = tmpDir();
  cleanup = t.cleanup;
  s = await server(t.dir, { config: { max_cycles_per_s: 0, engine: { max_agents: 10_000 } } });
  const c = await TcpClient.connect('127.0.0.1', s.tcpPort!);
  await c.request({ type: 'REGISTER_MODEL', operator_id: 'fuzz', metadata: { version: 'F1', architecture: 'mlp', hidden: 8 } });
  await c.request({ type: 'SET_CANDIDATE_MODEL', operator_id: 'fuzz', version: 'F1' });
  c.close();
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

/**
 * Sends raw bytes on a fresh connection; resolves with the replies received
 * once the server has answered (a whole line or frame) or closed, or after
 * `waitMs` when no reply is due (a truncated frame).
 */
function raw(bytes: Buffer, binary: boolean, waitMs = 3000): Promise<unknown[]> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port: s.tcpPort! });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      sock.destroy();
      const all = Buffer.concat(chunks);
      const out: unknown[] = [];
      if (binary) {
        for (let o = 0; o + 4 <= all.length;) { const n = all.readUInt32BE(o); if (o + 4 + n > all.length) break; out.push(JSON.parse(JSON.stringify((globalThis as any).__unpack(all.subarray(o + 4, o + 4 + n))))); o += 4 + n; }
      } else for (const l of all.toString('utf8').split('\n')) if (l) out.push(JSON.parse(l));
      resolve(out);
    };
    const complete = () => {
      const all = Buffer.concat(chunks);
      return binary ? all.length >= 4 && all.length >= 4 + all.readUInt32BE(0) : all.includes(10);
    };
    sock.on('data', (d) => { chunks.push(d); if (complete()) setImmediate(finish); });
    sock.on('close', () => { tally.closed++; finish(); });
    sock.on('error', () => finish());
    sock.on('connect', () => { sock.write(bytes); setTimeout(finish, waitMs); });
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
  | { kind: 'http-obj'; v: unknown; path: string } | { kind: 'utf8'; v: Uint8Array } | { kind: 'huge'; n: number } | { kind: 'truncated'; v: unknown };

const caseArb: fc.Arbitrary<Case> = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(cycleArb, commandArb, fc.record({ cycles: fc.array(cycleArb, { maxLength: 4 }) })).map((v) => ({ kind: 'tcp-obj' as const, v })) },
  { weight: 3, arbitrary: rawJson.map((v) => ({ kind: 'tcp-raw' as const, v })) },
  { weight: 3, arbitrary: fc.oneof(cycleArb, commandArb).map((v) => ({ kind: 'bin-obj' as const, v })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 40 }).map((v) => ({ kind: 'bin-raw' as const, v })) },
  { weight: 3, arbitrary: fc.tuple(fc.oneof(cycleArb, commandArb), fc.constantFrom('/v1/cycle', '/v1/command')).map(([v, path]) => ({ kind: 'http-obj' as const, v, path })) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 32 }).map((v) => ({ kind: 'utf8' as const, v })) },
  { weight: 1, arbitrary: fc.constantFrom(10_000, 300_000, (1 << 20) + 100).map((n) => ({ kind: 'huge' as const, n })) },
  { weight: 1, arbitrary: fc.oneof(cycleArb, commandArb).map((v) => ({ kind: 'truncated' as const, v })) },
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
        case 'tcp-raw':
          if (c.v.includes('\n') || c.v.trim() === '') { // blank lines are skipped by the protocol: no reply is due
            for (const r of await raw(Buffer.from(c.v + '\n', 'latin1'), false, 20)) check(r);
          } else {
            const got = await raw(Buffer.from(c.v + '\n', 'latin1'), false);
            expect(got.length, `no reply to ${JSON.stringify(c.v).slice(0, 80)}`).toBeGreaterThan(0);
            for (const r of got) check(r);
          }
          break;
        case 'utf8': for (const r of await raw(Buffer.concat([Buffer.from('{"state":{"x":"'), Buffer.from(c.v), Buffer.from('"}}\n')]), false)) check(r); break;
        case 'bin-raw': for (const r of await raw(Buffer.concat([BINARY_PREFACE, encodeFrame(c.v)]), true)) check(r); break;
        case 'huge': for (const r of await raw(Buffer.from(JSON.stringify({ state: { health: 0.5 }, big: 'x'.repeat(c.n), arr: new Array(Math.min(c.n, 50_000)).fill(1) }) + '\n'), false)) check(r); break;
        case 'truncated': {
          const frame = encodeFrame(pack(c.v));
          const cut = Buffer.concat([BINARY_PREFACE, frame.subarray(0, Math.max(1, frame.length - 3))]);
          expect(await raw(cut, true, 5)).toEqual([]); // no reply is due for an incomplete frame: the server waits for the rest
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
    // No weight became non-finite.
    const e = s.sidecar.engine;
    for (const p of [await e.snapshotProduction(), await e.snapshotCandidate()]) if (p) expect(p.body.every(Number.isFinite)).toBe(true);
    // The quarantine on disk holds exactly what the engine rejected.
    await s.sidecar.quarantine.close();
    expect(readQuarantine(s.sidecar.paths.quarantine).length).toBe(e.stats.quarantined);
    expect(s.sidecar.quarantine.total).toBe(e.stats.quarantined);
    console.log(`fuzz: ${n} inputs, ${tally.replies} replies, ${tally.closed} connections closed by the server, ${e.stats.quarantined} quarantined; codes ${JSON.stringify(Object.fromEntries(tally.byCode))}`);
  });
});
