// The reward function: a weighted sum over a cycle's `result`, then checked
// and clipped. Weights are config. Pure; no I/O.
import { SidecarError } from '../errors.js';

export interface RewardSpec {
  alive: number;
  damage_dealt: number;
  damage_received: number;
  death: number;
  action_wasted: number;
  violation: number;
  blocked: number;
  /** Learning sees the reward clipped to [-clip, clip]. */
  clip: number;
  /** A raw reward beyond ±bound is an invariant breach: quarantined, not learned. */
  bound: number;
  /** A numeric outcome beyond ±outcome_bound is treated as hostile. */
  outcome_bound: number;
}

export const DEFAULT_REWARD: RewardSpec = {
  alive: 0.05,
  damage_dealt: 1,
  damage_received: -1,
  death: -5,
  action_wasted: -0.1,
  violation: -2,
  blocked: -0.1,
  clip: 10,
  bound: 1000,
  outcome_bound: 1e6,
};

export function validateRewardSpec(s: RewardSpec): RewardSpec {
  for (const k of Object.keys(DEFAULT_REWARD) as Array<keyof RewardSpec>) {
    if (typeof s[k] !== 'number' || !Number.isFinite(s[k])) throw new SidecarError('E_CONFIG', `reward.${k} must be a finite number`);
  }
  if (!(s.clip > 0) || !(s.bound > 0) || !(s.outcome_bound > 0)) throw new SidecarError('E_CONFIG', 'reward.clip, reward.bound and reward.outcome_bound must be > 0');
  return s;
}

/** The parts of a result that learning and monitoring use. */
export interface Outcome {
  alive: boolean;
  violation: boolean;
  blocked: boolean;
  wasted: boolean;
  dealt: number;
  received: number;
}

export type OutcomeProblem = 'MALFORMED_RESULT' | 'HOSTILE_PAYLOAD';

const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

function hostileKeys(o: object): boolean {
  for (const k of FORBIDDEN_KEYS) if (Object.prototype.hasOwnProperty.call(o, k)) return true;
  return false;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads `result` into `out`; returns the problem, if any. */
export function readOutcome(result: unknown, spec: RewardSpec, out: Outcome): OutcomeProblem | undefined {
  if (!isObj(result)) return 'MALFORMED_RESULT';
  const o = result.outcomes === undefined ? {} : result.outcomes;
  const f = result.safety_flags === undefined ? {} : result.safety_flags;
  if (!isObj(o) || !isObj(f)) return 'MALFORMED_RESULT';
  if (hostileKeys(result) || hostileKeys(o) || hostileKeys(f)) return 'HOSTILE_PAYLOAD';
  const flag = (v: unknown, d: boolean): boolean | undefined => (v === undefined ? d : typeof v === 'boolean' ? v : undefined);
  const amount = (v: unknown): number | undefined | null => {
    if (v === undefined) return 0;
    if (typeof v !== 'number') return undefined;
    if (!Number.isFinite(v) || Math.abs(v) > spec.outcome_bound) return null;
    return v;
  };
  const alive = flag(o.is_alive, true), wasted = flag(o.action_wasted, false);
  const violation = flag(f.violation, false), blocked = flag(f.is_blocked, false);
  if (alive === undefined || wasted === undefined || violation === undefined || blocked === undefined) return 'MALFORMED_RESULT';
  const dealt = amount(o.damage_dealt), received = amount(o.damage_received);
  if (dealt === undefined || received === undefined) return 'MALFORMED_RESULT';
  if (dealt === null || received === null) return 'HOSTILE_PAYLOAD';
  out.alive = alive; out.wasted = wasted; out.violation = violation; out.blocked = blocked;
  out.dealt = dealt; out.received = received;
  return undefined;
}

/** The raw (unclipped) reward of an outcome. */
export function rawReward(o: Outcome, s: RewardSpec): number {
  return (o.alive ? s.alive : s.death)
    + s.damage_dealt * o.dealt
    + s.damage_received * o.received
    + (o.wasted ? s.action_wasted : 0)
    + (o.violation ? s.violation : 0)
    + (o.blocked ? s.blocked : 0);
}

export function clipReward(r: number, s: RewardSpec): number {
  return r > s.clip ? s.clip : r < -s.clip ? -s.clip : r;
}
