// The learning experiment: how the rules policy, a fresh model and a model
// trained online through the shadow path do in the arena. Everything runs
// in-process through a real Sidecar (engine, pool, control plane, audit) on a
// temporary data directory, with the runbook's own commands.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sidecar } from '../sidecar.js';
import { Engine } from '../engine/cycle.js';
import type { ModelParams } from '../kernel/model.js';
import type { CycleReply } from '../engine/types.js';
import { Arena } from './arena.js';
import type { EngineConfigInput } from '../engine/config.js';

export interface Rates { survival: number; violations: number; steps: number }

export interface ExperimentOptions {
  seed: number;
  agents: number;
  /** Training cycles through the shadow path. */
  trainCycles: number;
  /** Evaluate the candidate every this many training cycles. */
  evalEvery: number;
  /** Steps of each evaluation. */
  evalSteps: number;
  architecture: 'linear' | 'mlp';
  hidden: number;
  /** Canary cycles at most while the gate gathers on-policy evidence. */
  maxCanaryCycles: number;
  engine?: EngineConfigInput;
  onProgress?: (line: string) => void;
}

export interface ExperimentResult {
  options: Omit<ExperimentOptions, 'onProgress'>;
  rules: Rates;
  fresh: Rates;
  curve: Array<{ cycles: number } & Rates>;
  promotion: { status: string; canary_cycles: number; gate?: unknown; error?: unknown };
  promoted: Rates;
  seconds: number;
}

/** Drives `steps` arena steps through a handler that answers cycles; returns the served rates. */
export async function drive(handle: (req: unknown) => Promise<unknown>, arena: Arena, steps: number): Promise<Rates> {
  const last = new Map<string, { intent: string; result: unknown }>();
  let alive = 0, viol = 0, n = 0;
  while (n < steps) {
    const batch = arena.agents.map((a) => {
      const prev = last.get(a.id);
      const req = prev ? { agent_id: a.id, state: arena.state(a), intent_taken: prev.intent, result: prev.result } : { agent_id: a.id, state: arena.state(a) };
      return { a, p: handle(req) as Promise<CycleReply> };
    });
    for (const { a, p } of batch) {
      const r = await p;
      if (r.status !== 'OK') throw new Error(`cycle refused: ${JSON.stringify(r)}`);
      const { result } = arena.step(a, r.intent);
      n++;
      if (result.outcomes.is_alive) alive++;
      if (result.safety_flags.violation) viol++;
      last.set(a.id, { intent: r.intent, result });
    }
  }
  return { survival: alive / n, violations: viol / n, steps: n };
}

/** The greedy policy of `params` (no exploration) in a fresh arena. */
export async function evaluate(params: ModelParams | null, seed: number, agents: number, steps: number, config?: EngineConfigInput): Promise<Rates> {
  const e = await Engine.create({ config: { ...config, pool_threads: 0, exploration: { ...config?.exploration, epsilon: 0 } } });
  try {
    if (params) await e.setModel('production', 'EVAL', params);
    return await drive((r) => e.cycle(r), new Arena({ seed, agents }), steps);
  } finally {
    await e.close();
  }
}

async function confirm(s: Sidecar, cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  const a = (await s.handle(cmd)) as Record<string, unknown>;
  if (a.status !== 'REQUIRED_CONFIRMATION') return a;
  return (await s.handle({ ...cmd, confirmation_token: a.confirmation_token })) as Record<string, unknown>;
}

export async function learningExperiment(o: ExperimentOptions): Promise<ExperimentResult> {
  const t0 = performance.now();
  const say = o.onProgress ?? (() => {});
  const dir = mkdtempSync(join(tmpdir(), 'shadowpath-exp-'));
  const s = await Sidecar.open({ dataDir: dir, checkpointEverySec: 0, config: { engine: o.engine } });
  const EVAL_SEED = o.seed + 1000;
  try {
    const OP = 'experiment';
    const rules = await evaluate(null, EVAL_SEED, o.agents, o.evalSteps, o.engine);
    say(`rules policy: survival ${rules.survival.toFixed(3)}, violations ${rules.violations.toFixed(4)}`);
    const md = { architecture: o.architecture, hidden: o.hidden };
    const reg = await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'M-Arena-V1', ...md } });
    if (reg.status !== 'OK') throw new Error(JSON.stringify(reg));
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'M-Arena-V1' });
    const fresh = await evaluate(await s.engine.snapshotCandidate(), EVAL_SEED, o.agents, o.evalSteps, o.engine);
    say(`fresh model: survival ${fresh.survival.toFixed(3)}, violations ${fresh.violations.toFixed(4)}`);
    const train = new Arena({ seed: o.seed, agents: o.agents });
    const curve: ExperimentResult['curve'] = [{ cycles: 0, ...fresh }];
    for (let done = 0; done < o.trainCycles;) {
      const r = await drive((req) => s.handle(req), train, o.evalEvery);
      done += r.steps;
      const point = { cycles: done, ...(await evaluate(await s.engine.snapshotCandidate(), EVAL_SEED, o.agents, o.evalSteps, o.engine)) };
      curve.push(point);
      say(`${done} cycles: candidate survival ${point.survival.toFixed(3)}, violations ${point.violations.toFixed(4)} (served by rules meanwhile: survival ${r.survival.toFixed(3)})`);
    }
    // The gate wants on-policy evidence: a canary of 10% of the agents, the
    // gate asked after every 2,000 cycles until the evidence suffices.
    await s.handle({ type: 'SET_CANARY_RATIO', operator_id: OP, ratio: 0.1 });
    let promo: Record<string, unknown> = {};
    let canaryCycles = 0;
    for (;;) {
      promo = await confirm(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP });
      if (promo.status === 'OK' || canaryCycles >= o.maxCanaryCycles || s.control.state.canary_ratio === 0) break;
      canaryCycles += (await drive((req) => s.handle(req), train, 2000)).steps;
    }
    const promotion = { status: String(promo.status), canary_cycles: canaryCycles, ...(promo.details ? { gate: promo.details } : {}), ...(promo.error ? { error: promo.error } : {}) };
    say(`promotion: ${promo.status} after ${canaryCycles} canary cycles${promo.error ? ` ${JSON.stringify(promo.error)}` : ''}`);
    // The watch holds 10% of agents back on the rules after a promotion; the
    // experiment measures the promoted model serving every agent.
    if (promo.status === 'OK') await s.handle({ type: 'END_WATCH', operator_id: OP });
    const promoted = promo.status === 'OK'
      ? await drive((req) => s.handle(req), new Arena({ seed: EVAL_SEED, agents: o.agents }), o.evalSteps)
      : { survival: NaN, violations: NaN, steps: 0 };
    if (promo.status === 'OK') say(`promoted model, serving (epsilon ${s.engine.config.exploration.epsilon}): survival ${promoted.survival.toFixed(3)}, violations ${promoted.violations.toFixed(4)}`);
    const { onProgress: _p, ...options } = o;
    return { options, rules, fresh, curve, promotion, promoted, seconds: Math.round((performance.now() - t0) / 100) / 10 };
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
