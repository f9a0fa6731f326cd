// Model-based tests of the control plane (fast-check commands): random
// sequences of every command, two-step flows, each kind of token misuse,
// cycles, lockdowns and restarts of the sidecar on its data directory,
// checked against a small model. After every step: locked ⇒ every cycle is
// STOP; the audit chain verifies; the rollback stack, production and
// candidate match the model; every weight is finite; every incident's
// audit_hash is in the log. MODEL_RUNS sequences (20 in `npm test`, 200 in
// `npm run model`) with the kernel on the main thread, and half as many over
// a real worker thread (pool_threads 1: shared memory, the doorbell).
// A misused token is burned: the right confirmation afterwards is E_TOKEN_USED
// (a forged one burns nothing).
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { tmpDir } from '../helpers/tmp.js';
import { openSidecar } from '../helpers/sidecar.js';
import { verifyLogFile } from '../../src/audit/log.js';
import { listIncidents } from '../../src/monitor/incidents.js';
import type { Sidecar } from '../../src/sidecar.js';

const RUNS = Number(process.env.MODEL_RUNS ?? 20);
const OP = 'Op-01';

interface Model { registered: Set<string>; active: string | null; candidate: string | null; stack: string[]; locked: boolean; watch: boolean }
interface Real { s: Sidecar; dir: string; threads: number }
type Reply = Record<string, any>;

const code = (r: Reply) => (r.status === 'OK' || r.status === 'REQUIRED_CONFIRMATION' ? r.status : r.error?.code);

async function twoStep(s: Sidecar, cmd: Record<string, unknown>): Promise<Reply> {
  const a = (await s.handle(cmd)) as Reply;
  if (a.status !== 'REQUIRED_CONFIRMATION') return a;
  return (await s.handle({ ...cmd, confirmation_token: a.confirmation_token })) as Reply;
}

async function invariants(m: Model, r: Real): Promise<void> {
  const st = r.s.control.state;
  expect(st.lockdown.active).toBe(m.locked);
  expect(st.active?.version ?? null).toBe(m.active);
  expect(st.candidate?.version ?? null).toBe(m.candidate);
  expect(st.rollback_stack.map((x) => x.version)).toEqual(m.stack);
  expect(st.watch !== null).toBe(m.watch);
  const probe = (await r.s.handle({ agent_id: 'probe', state: { health: 1, target_distance: 5 } })) as Reply;
  expect(probe.status, JSON.stringify(probe)).toBe('OK');
  if (m.locked) expect(probe).toMatchObject({ intent: 'STOP', policy_source: 'LOCKDOWN' });
  else expect(probe.policy_source).not.toBe('LOCKDOWN');
  await r.s.control.settled(); // the system's transitions are written and audited in the background
  await r.s.audit.drain();
  expect((await verifyLogFile(join(r.dir, 'audit', 'audit.log'))).ok).toBe(true);
  for (const p of [await r.s.engine.snapshotProduction(), await r.s.engine.snapshotCandidate()]) if (p) expect(p.body.every(Number.isFinite)).toBe(true);
  const log = readFileSync(join(r.dir, 'audit', 'audit.log'), 'utf8');
  for (const i of listIncidents(join(r.dir, 'failures'))) expect(log).toContain(`"hash":"${i.audit_hash}"`);
}

class Register implements fc.AsyncCommand<Model, Real> {
  constructor(readonly v: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const rep = (await r.s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: this.v } })) as Reply;
    const want = m.locked ? 'E_LOCKDOWN' : m.registered.has(this.v) ? 'E_DUPLICATE_VERSION' : 'OK';
    expect(code(rep)).toBe(want);
    if (want === 'OK') m.registered.add(this.v);
    await invariants(m, r);
  }
  toString = () => `Register(${this.v})`;
}

class SetCandidate implements fc.AsyncCommand<Model, Real> {
  constructor(readonly v: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const rep = (await r.s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: this.v })) as Reply;
    const want = m.locked ? 'E_LOCKDOWN' : !m.registered.has(this.v) ? 'E_UNKNOWN_MODEL' : m.active === this.v ? 'E_ALREADY_PRODUCTION' : m.watch ? 'E_WATCH_ACTIVE' : 'OK';
    expect(code(rep)).toBe(want);
    if (want === 'OK') m.candidate = this.v;
    await invariants(m, r);
  }
  toString = () => `SetCandidate(${this.v})`;
}

class Promote implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    const rep = await twoStep(r.s, { type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true });
    const want = m.locked ? 'E_LOCKDOWN' : !m.candidate ? 'E_NO_CANDIDATE' : 'OK';
    expect(code(rep)).toBe(want);
    if (want === 'OK') { if (m.active) m.stack.push(m.active); m.active = m.candidate; m.candidate = null; m.watch = true; }
    await invariants(m, r);
  }
  toString = () => 'Promote(force)';
}

class EndWatch implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    const rep = (await r.s.handle({ type: 'END_WATCH', operator_id: OP })) as Reply;
    const want = !m.watch ? 'E_NO_WATCH' : 'OK'; // allowed during a lockdown: it only narrows what the previous production serves
    expect(code(rep)).toBe(want);
    if (want === 'OK') m.watch = false;
    await invariants(m, r);
  }
  toString = () => 'EndWatch';
}

class Rollback implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    const rep = await twoStep(r.s, { type: 'ROLLBACK_MODEL', operator_id: OP });
    const want = m.locked ? 'E_LOCKDOWN' : m.stack.length === 0 ? 'E_NO_ROLLBACK_TARGET' : 'OK';
    expect(code(rep)).toBe(want);
    if (want === 'OK') { m.active = m.stack.pop()!; m.watch = false; }
    await invariants(m, r);
  }
  toString = () => 'Rollback';
}

class Lockdown implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    expect(code((await r.s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP })) as Reply)).toBe('OK');
    m.locked = true;
    await invariants(m, r);
  }
  toString = () => 'Lockdown';
}

class Unrelease implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    const rep = await twoStep(r.s, { type: 'UNRELEASE_LOCKDOWN', operator_id: OP });
    expect(code(rep)).toBe(m.locked ? 'OK' : 'E_NOT_LOCKED');
    m.locked = false;
    await invariants(m, r);
  }
  toString = () => 'Unrelease';
}

const MISUSES = ['twice', 'other-operator', 'other-type', 'other-params', 'state-changed', 'forged'] as const;
class TokenMisuse implements fc.AsyncCommand<Model, Real> {
  constructor(readonly kind: (typeof MISUSES)[number]) {}
  check = (m: Readonly<Model>) => m.locked; // UNRELEASE_LOCKDOWN issues a token only while locked
  async run(m: Model, r: Real) {
    const cmd = { type: 'UNRELEASE_LOCKDOWN', operator_id: OP };
    const first = (await r.s.handle(cmd)) as Reply;
    expect(first.status).toBe('REQUIRED_CONFIRMATION');
    const tok = first.confirmation_token as string;
    let rep: Reply;
    switch (this.kind) {
      case 'twice': {
        expect(code((await r.s.handle({ ...cmd, confirmation_token: tok })) as Reply)).toBe('OK');
        m.locked = false;
        await r.s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP });
        m.locked = true;
        rep = (await r.s.handle({ ...cmd, confirmation_token: tok })) as Reply;
        expect(code(rep)).toBe('E_TOKEN_USED');
        break;
      }
      case 'other-operator': rep = (await r.s.handle({ ...cmd, operator_id: 'Op-02', confirmation_token: tok })) as Reply; expect(code(rep)).toBe('E_TOKEN_OPERATOR'); break;
      // The token is checked before the command's own preconditions, so a
      // RESET_FAILURE_STATUS in NORMAL with it is E_TOKEN_TYPE, not E_ALREADY_NORMAL.
      case 'other-type': rep = (await r.s.handle({ type: 'RESET_FAILURE_STATUS', operator_id: OP, confirmation_token: tok })) as Reply; expect(code(rep)).toBe('E_TOKEN_TYPE'); break;
      case 'other-params': rep = (await r.s.handle({ ...cmd, note: 'x', confirmation_token: tok })) as Reply; expect(code(rep)).toBe('E_TOKEN_PARAMS'); break;
      case 'state-changed': {
        await r.s.handle({ type: 'EMERGENCY_LOCKDOWN', operator_id: OP }); // idempotent: no change
        expect(r.s.control.system({ type: 'FAILURE', mode: null, failure: { type: 'STALE_STATE', detail: 'test', incident_id: null }, lockdown: false, cancel_canary: false })).not.toBeNull(); // a state change (version bump)
        rep = (await r.s.handle({ ...cmd, confirmation_token: tok })) as Reply;
        expect(code(rep)).toBe('E_TOKEN_STATE');
        break;
      }
      case 'forged': rep = (await r.s.handle({ ...cmd, confirmation_token: tok.slice(0, -2) + (tok.endsWith('A') ? 'BB' : 'AA') })) as Reply; expect(code(rep)).toBe('E_TOKEN_UNKNOWN'); break;
    }
    // The misused token is spent: the right confirmation now fails too (a
    // forged token was never a token of ours, so the real one still works).
    if (this.kind !== 'forged') expect(code((await r.s.handle({ ...cmd, confirmation_token: tok })) as Reply)).toBe('E_TOKEN_USED');
    await invariants(m, r); // nothing happened: still locked
  }
  toString = () => `TokenMisuse(${this.kind})`;
}

class Cycles implements fc.AsyncCommand<Model, Real> {
  constructor(readonly n: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    let last: Reply | null = null;
    for (let i = 0; i < this.n; i++) {
      last = (await r.s.handle(last ? { agent_id: 'm', state: { health: 0.5 }, intent_taken: last.intent, result: { outcomes: { is_alive: true, damage_dealt: i % 2 } } } : { agent_id: 'm', state: { health: 0.5 } })) as Reply;
      expect(last.status, JSON.stringify(last)).toBe('OK');
      if (m.locked) expect(last).toMatchObject({ intent: 'STOP', policy_source: 'LOCKDOWN' });
    }
    await invariants(m, r);
  }
  toString = () => `Cycles(${this.n})`;
}

class Restart implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    await r.s.close();
    r.s = await openSidecar(r.dir, { config: { engine: { pool_threads: r.threads } } });
    await invariants(m, r);
  }
  toString = () => 'Restart';
}

const VERSIONS = ['A', 'B', 'C', 'D'];
const commands = [
  fc.constantFrom(...VERSIONS).map((v) => new Register(v)),
  fc.constantFrom(...VERSIONS).map((v) => new SetCandidate(v)),
  fc.constant(new Promote()), fc.constant(new Rollback()), fc.constant(new EndWatch()), fc.constant(new Lockdown()), fc.constant(new Unrelease()),
  fc.constantFrom(...MISUSES).map((k) => new TokenMisuse(k)),
  fc.integer({ min: 1, max: 6 }).map((n) => new Cycles(n)),
  fc.constant(new Restart()),
];

describe.each([
  { label: 'kernel on the main thread', threads: 0, runs: RUNS, seed: 11 },
  { label: '1 kernel worker thread', threads: 1, runs: Math.max(5, Math.ceil(RUNS / 2)), seed: 12 },
])('control plane, model-based ($label, $runs sequences)', ({ threads, runs, seed }) => {
  it('every step agrees with the model and the invariants hold', { timeout: 60_000 + runs * 10_000 }, async () => {
    let steps = 0;
    await fc.assert(fc.asyncProperty(fc.commands(commands, { maxCommands: 40, size: 'large' }), async (cmds) => {
      const t = tmpDir();
      const real: Real = { s: await openSidecar(t.dir, { config: { engine: { pool_threads: threads } } }), dir: t.dir, threads };
      expect(real.s.engine.config.pool_threads).toBe(threads);
      try {
        await fc.asyncModelRun(() => ({ model: { registered: new Set<string>(), active: null, candidate: null, stack: [], locked: false, watch: false }, real }), cmds);
        steps += [...cmds].length;
      } finally {
        await real.s.close();
        t.cleanup();
      }
    }), { numRuns: runs, seed });
    expect(steps).toBeGreaterThan(0);
    console.log(`model (pool_threads ${threads}): ${runs} sequences, ${steps} commands`);
  });
});
