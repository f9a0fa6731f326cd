// The promotion gate against the arena, through a real Sidecar (engine,
// control plane, audit, containment) on a temporary data directory, with the
// runbook's own commands:
// - planted regressions: fixed-weight candidates (learning rate 0) that
//   always propose one intent; one harms at once, one harms ticks later.
//   Shadow, then a canary, then PROMOTE_CANDIDATE asked again and again.
// - a truly better candidate, learned in shadow, promoted through its canary.
// - a forced regression, rolled back automatically by the post-promotion watch.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sidecar } from '../sidecar.js';
import type { CycleReply } from '../engine/types.js';
import { DEFAULT_RULES_POLICY } from '../engine/rules-policy.js';
import { Arena, type ArenaOptions } from './arena.js';
import type { SidecarConfigInput } from '../config.js';
import type { GateVerdict } from '../control/gate.js';

/**
 * The world of delayed harm: every episode a stalker, no crowds; production's
 * rules evade it. Standing still earns the same one-step reward as evading
 * (nothing hits yet), and is lethal three ticks later.
 */
export const STALKER_WORLD: Partial<ArenaOptions> = { stalkerShare: 1, crowdShare: 0 };
export const STALKER_RULES = { ...DEFAULT_RULES_POLICY, rules: [{ when: { target_height: { gte: 9.5 } }, intent: 'EVADE' }, ...DEFAULT_RULES_POLICY.rules] };

const OP = 'gate-experiment';

interface Rig { s: Sidecar; dir: string; arena: Arena; last: Map<string, { intent: string; result: unknown }>; totals: { n: number; alive: number; viol: number } }

async function rig(seed: number, agents: number, world: Partial<ArenaOptions>, config: SidecarConfigInput): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowpath-gate-'));
  const s = await Sidecar.open({ dataDir: dir, checkpointEverySec: 0, config });
  return { s, dir, arena: new Arena({ seed, agents, ...world }), last: new Map(), totals: { n: 0, alive: 0, viol: 0 } };
}

async function close(r: Rig): Promise<void> {
  await r.s.close();
  rmSync(r.dir, { recursive: true, force: true });
}

/** `steps` arena steps through the sidecar (every agent closes its previous decision); ticks containment every 500 steps as its timer would. */
async function run(r: Rig, steps: number): Promise<{ survival: number; served: Record<string, number> }> {
  let n = 0, alive = 0;
  const served: Record<string, number> = {};
  while (n < steps) {
    const batch = r.arena.agents.map((a) => {
      const prev = r.last.get(a.id);
      const req = prev ? { agent_id: a.id, state: r.arena.state(a), intent_taken: prev.intent, result: prev.result } : { agent_id: a.id, state: r.arena.state(a) };
      return { a, p: r.s.handle(req) as Promise<CycleReply> };
    });
    for (const { a, p } of batch) {
      const rep = await p;
      if (rep.status !== 'OK') throw new Error(`cycle refused: ${JSON.stringify(rep)}`);
      const { result } = r.arena.step(a, rep.intent);
      served[rep.policy_source] = (served[rep.policy_source] ?? 0) + 1;
      n++;
      if (result.outcomes.is_alive) alive++;
      r.totals.n++; if (result.outcomes.is_alive) r.totals.alive++; if (result.safety_flags.violation) r.totals.viol++;
      r.last.set(a.id, { intent: rep.intent, result });
      if (r.totals.n % 500 === 0) r.s.failures.tick();
    }
  }
  return { survival: alive / n, served };
}

async function cmd(s: Sidecar, req: Record<string, unknown>): Promise<Record<string, any>> {
  return (await s.handle({ operator_id: OP, ...req })) as Record<string, any>;
}

async function twoStep(s: Sidecar, req: Record<string, unknown>): Promise<Record<string, any>> {
  const a = await cmd(s, req);
  if (a.status !== 'REQUIRED_CONFIRMATION') return a;
  return cmd(s, { ...req, confirmation_token: a.confirmation_token });
}

/** Linear weights that always propose `intent` (every weight 0, its bias 5). */
export function plantWeights(s: Sidecar, intent: string): { w1: number[][]; b1: number[] } {
  const d = s.engine.schema.dim, names = s.engine.intents.names;
  return { w1: names.map(() => new Array(d).fill(0)), b1: names.map((n) => (n === intent ? 5 : 0)) };
}

export interface PlantResult {
  name: string;
  intent: string;
  harm: 'immediate' | 'delayed';
  /** Survival over the same world: served by the plant (forced), and by production (the rules). */
  survival_plant: number;
  survival_production: number;
  shadow_cycles: number;
  canary_cycles: number;
  asked: number;
  passed: boolean;
  canary_aborted: boolean;
  final: { reason: string; missing: string | null; criteria: Array<{ name: string; evidence: string; estimate: number | null; bound: number | null; verdict: string }> };
}

export interface PlantOptions {
  name: string;
  intent: string;
  harm: 'immediate' | 'delayed';
  seed: number;
  agents: number;
  shadowCycles: number;
  canaryCycles: number;
  askEvery: number;
  canaryRatio: number;
  world: Partial<ArenaOptions>;
  rules?: typeof DEFAULT_RULES_POLICY;
}

/** How a fixed-policy candidate survives when it serves everyone (forced in), against production, in fresh sidecars. */
async function survivalOf(o: PlantOptions, plant: boolean): Promise<number> {
  const r = await rig(o.seed + 500, o.agents, o.world, configFor(o, true));
  try {
    if (plant) {
      await cmd(r.s, { type: 'REGISTER_MODEL', metadata: { version: 'PLANT' }, weights: plantWeights(r.s, o.intent) });
      await cmd(r.s, { type: 'SET_CANDIDATE_MODEL', version: 'PLANT' });
      await twoStep(r.s, { type: 'PROMOTE_CANDIDATE', force: true });
    }
    return (await run(r, 6000)).survival;
  } finally {
    await close(r);
  }
}

function configFor(o: { rules?: typeof DEFAULT_RULES_POLICY }, noWatch = false): SidecarConfigInput {
  return {
    engine: { pool_threads: 0, learning: { lr: 0 }, ...(o.rules ? { rules_policy: o.rules } : {}) },
    control: noWatch ? { watch: { cycles: 0 } } : {},
    // The experiment reads the gate, not the alerts: a plant must not be stopped by SAFE_MODE before the gate is asked.
    failures: { alerts: { survival_critical: 0, violation_critical: 1 } },
  };
}

const brief = (g: GateVerdict) => ({
  reason: g.reason, missing: g.missing,
  criteria: g.criteria.map((c) => ({ name: c.name, evidence: c.evidence, estimate: c.estimate, bound: c.bound, verdict: c.verdict })),
});

export async function plantedRegression(o: PlantOptions): Promise<PlantResult> {
  const survival_plant = await survivalOf(o, true);
  const survival_production = await survivalOf(o, false);
  const r = await rig(o.seed, o.agents, o.world, configFor(o));
  try {
    const reg = await cmd(r.s, { type: 'REGISTER_MODEL', metadata: { version: 'PLANT' }, weights: plantWeights(r.s, o.intent) });
    if (reg.status !== 'OK') throw new Error(JSON.stringify(reg));
    await cmd(r.s, { type: 'SET_CANDIDATE_MODEL', version: 'PLANT' });
    await run(r, o.shadowCycles);
    let asked = 0, passed = false, last: Record<string, any> = {};
    const ask = async () => { asked++; last = await cmd(r.s, { type: 'PROMOTE_CANDIDATE' }); if (last.status === 'REQUIRED_CONFIRMATION') passed = true; };
    await ask();
    await cmd(r.s, { type: 'SET_CANARY_RATIO', ratio: o.canaryRatio });
    let canary = 0, aborted = false;
    while (canary < o.canaryCycles && !passed) {
      await run(r, o.askEvery);
      canary += o.askEvery;
      if (r.s.control.state.canary_ratio === 0) aborted = true;
      await ask();
    }
    const gate = (last.details?.gate ?? null) as GateVerdict | null;
    return {
      name: o.name, intent: o.intent, harm: o.harm, survival_plant, survival_production, shadow_cycles: o.shadowCycles, canary_cycles: canary,
      asked, passed, canary_aborted: aborted, final: gate ? brief(gate) : { reason: String(last.error?.message ?? last.status), missing: null, criteria: [] },
    };
  } finally {
    await close(r);
  }
}

export interface GoodResult {
  shadow_cycles: number;
  canary_ratio: number;
  /** Cycles after the canary was set until the gate passed (asked every `askEvery`). */
  canary_cycles_to_pass: number | null;
  passed: boolean;
  evidence: string | null;
  survival_before: number;
  survival_after: number;
  final: ReturnType<typeof brief> | null;
}

/** A candidate learned in shadow (the standard arena), then canary, then promoted once the evidence suffices. */
export async function goodCandidate(o: { seed: number; agents: number; shadowCycles: number; canaryRatio: number; askEvery: number; maxCanaryCycles: number }): Promise<GoodResult> {
  const r = await rig(o.seed, o.agents, {}, { engine: { pool_threads: 0 } });
  try {
    await cmd(r.s, { type: 'REGISTER_MODEL', metadata: { version: 'M-Good', architecture: 'mlp', hidden: 32 } });
    await cmd(r.s, { type: 'SET_CANDIDATE_MODEL', version: 'M-Good' });
    const before = await run(r, o.shadowCycles);
    await cmd(r.s, { type: 'SET_CANARY_RATIO', ratio: o.canaryRatio });
    let canary = 0, first: Record<string, any> = {};
    for (;;) {
      first = await cmd(r.s, { type: 'PROMOTE_CANDIDATE' });
      if (first.status === 'REQUIRED_CONFIRMATION' || canary >= o.maxCanaryCycles || r.s.control.state.canary_ratio === 0) break;
      await run(r, o.askEvery);
      canary += o.askEvery;
    }
    const passed = first.status === 'REQUIRED_CONFIRMATION';
    if (passed) await cmd(r.s, { type: 'PROMOTE_CANDIDATE', confirmation_token: first.confirmation_token });
    const after = passed ? await run(r, 6000) : { survival: NaN };
    const gate = (first.details?.gate ?? null) as GateVerdict | null;
    return {
      shadow_cycles: o.shadowCycles, canary_ratio: o.canaryRatio, canary_cycles_to_pass: passed ? canary : null, passed,
      evidence: gate?.evidence ?? null, survival_before: before.survival, survival_after: after.survival, final: gate ? brief(gate) : null,
    };
  } finally {
    await close(r);
  }
}

export interface WatchResult {
  forced: string;
  rolled_back: boolean;
  /** Cycles after the forced promotion until the automatic rollback. */
  cycles_to_rollback: number | null;
  active_after: string | null;
  incident: { type: string; operator: string | null } | null;
}

/** A regression forced into production over the rules: the watch's holdback arm shows it worse, and it is rolled back. */
export async function watchRollback(o: {
  seed: number; agents: number; intent: string; world: Partial<ArenaOptions>; rules?: typeof DEFAULT_RULES_POLICY; maxCycles: number;
  /** Cycles under an emergency lockdown latched right after the promotion, then released (the watch must outlast it). */
  lockdownCycles?: number;
}): Promise<WatchResult> {
  const r = await rig(o.seed, o.agents, o.world, configFor(o));
  try {
    await cmd(r.s, { type: 'REGISTER_MODEL', metadata: { version: 'PLANT' }, weights: plantWeights(r.s, o.intent) });
    await cmd(r.s, { type: 'SET_CANDIDATE_MODEL', version: 'PLANT' });
    await run(r, 1000);
    const p = await twoStep(r.s, { type: 'PROMOTE_CANDIDATE', force: true });
    if (p.status !== 'OK') throw new Error(JSON.stringify(p));
    if (o.lockdownCycles) {
      const l = await cmd(r.s, { type: 'EMERGENCY_LOCKDOWN', reason: 'drill during the watch' });
      if (l.status !== 'OK') throw new Error(JSON.stringify(l));
      await run(r, o.lockdownCycles);
      const u = await twoStep(r.s, { type: 'UNRELEASE_LOCKDOWN' });
      if (u.status !== 'OK') throw new Error(JSON.stringify(u));
    }
    let cycles = 0;
    while (cycles < o.maxCycles && r.s.control.state.watch) { await run(r, 500); cycles += 500; }
    await r.s.control.settled();
    await r.s.failures.drain();
    const st = r.s.control.state;
    const rolled = st.failure.last_failure?.type === 'AUTO_ROLLBACK';
    const inc = r.s.failures.written.find((i) => i.type === 'AUTO_ROLLBACK');
    await r.s.audit.drain();
    const audit = readFileSync(join(r.dir, 'audit', 'audit.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; operator_id: string | null; payload: { type?: string } });
    const rec = audit.find((a) => a.kind === 'TRANSITION' && a.payload.type === 'AUTO_ROLLBACK');
    return {
      forced: o.intent, rolled_back: rolled, cycles_to_rollback: rolled ? cycles : null, active_after: st.active?.version ?? null,
      incident: inc ? { type: inc.type, operator: rec?.operator_id ?? null } : null,
    };
  } finally {
    await close(r);
  }
}
