// Declarative safety rules: when a state matches a rule, its intents are
// forbidden for that cycle, and its fallback intent is preferred in place of
// a forbidden proposal. Rules only read the state, so the mask is known
// before the kernel runs and the kernel explores within it.
import { SidecarError } from '../errors.js';
import { compileCondition, type Condition, type Matcher } from './conditions.js';
import type { Intents } from './intents.js';
import type { StateSchema } from './state-schema.js';

export interface SafetyRuleSpec {
  id: string;
  when: Condition;
  forbid: string[];
  fallback?: string;
}

export const DEFAULT_SAFETY_RULES: SafetyRuleSpec[] = [
  { id: 'no-move-without-floor', when: { is_floor_ahead: false }, forbid: ['MOVE', 'JUMP'], fallback: 'HOLD' },
  { id: 'no-step-into-fall', when: { fall_distance_ahead: { gt: 3 } }, forbid: ['MOVE', 'JUMP'], fallback: 'HOLD' },
  { id: 'no-jump-in-air', when: { is_on_ground: false }, forbid: ['JUMP'], fallback: 'HOLD' },
];

interface CompiledRule {
  id: string;
  match: Matcher;
  forbid: number; // bitmask
  fallback: number; // -1: none
}

/** The outcome of the rules for one state. */
export interface SafetyVerdict {
  /** Allowed intents (never 0: when everything is forbidden only STOP is allowed). */
  mask: number;
  /** Preferred replacement for a forbidden proposal, -1 if none. */
  pref: number;
  /** Bit i set when rule i matched (at most 32 rules). */
  matched: number;
}

export class SafetyRules {
  private readonly rules: CompiledRule[];

  constructor(specs: SafetyRuleSpec[], schema: StateSchema, private readonly intents: Intents) {
    if (!Array.isArray(specs)) throw new SidecarError('E_CONFIG', 'safety_rules must be an array');
    if (specs.length > 32) throw new SidecarError('E_CONFIG', 'at most 32 safety rules');
    const ids = new Set<string>();
    this.rules = specs.map((s, i) => {
      const where = `safety_rules[${i}]`;
      if (typeof s?.id !== 'string' || !/^[A-Za-z0-9._-]{1,64}$/.test(s.id)) throw new SidecarError('E_CONFIG', `${where}: id must be 1-64 of [A-Za-z0-9._-]`);
      if (ids.has(s.id)) throw new SidecarError('E_CONFIG', `${where}: duplicate id "${s.id}"`);
      ids.add(s.id);
      if (!Array.isArray(s.forbid) || s.forbid.length === 0) throw new SidecarError('E_CONFIG', `${where}: forbid must list intents`);
      let forbid = 0;
      for (const n of s.forbid) forbid |= 1 << intents.require(n, where);
      return {
        id: s.id,
        match: compileCondition(s.when, schema, where),
        forbid: forbid >>> 0,
        fallback: s.fallback === undefined ? -1 : intents.require(s.fallback, where),
      };
    });
  }

  get size(): number {
    return this.rules.length;
  }

  evaluate(values: Float64Array, out: SafetyVerdict): SafetyVerdict {
    let mask = this.intents.allMask;
    let pref = -1, matched = 0;
    for (let i = 0; i < this.rules.length; i++) {
      const r = this.rules[i];
      if (r.match(values)) {
        mask = (mask & ~r.forbid) >>> 0;
        if (pref < 0) pref = r.fallback;
        matched |= 1 << i;
      }
    }
    out.matched = matched >>> 0;
    if (mask === 0) mask = (1 << this.intents.stop) >>> 0;
    out.mask = mask;
    out.pref = pref >= 0 && (mask >>> pref) & 1 ? pref : -1;
    return out;
  }

  /** The id of the first matched rule that forbids `intent`, or undefined. */
  forbiddenBy(verdict: SafetyVerdict, intent: number): string | undefined {
    for (let i = 0; i < this.rules.length; i++) {
      if ((verdict.matched >>> i) & 1 && (this.rules[i].forbid >>> intent) & 1) return this.rules[i].id;
    }
    return undefined;
  }
}
