// The rules policy: the heuristic baseline that decides when no production
// model does (none set, low confidence, SAFE_MODE). An ordered list of
// {when, intent}; the first match wins, else the default intent.
import { SidecarError } from '../errors.js';
import { compileCondition, type Condition, type Matcher } from './conditions.js';
import type { Intents } from './intents.js';
import type { StateSchema } from './state-schema.js';

export interface RulesPolicySpec {
  rules: Array<{ when: Condition; intent: string }>;
  default: string;
}

export const DEFAULT_RULES_POLICY: RulesPolicySpec = {
  rules: [
    { when: { health: { lt: 0.3 }, target_distance: { lt: 8 } }, intent: 'EVADE' },
    { when: { is_floor_ahead: false }, intent: 'HOLD' },
    { when: { target_distance: { lt: 2.5 }, attack_cooldown: { lte: 0 } }, intent: 'PRIMARY_ATTACK' },
    { when: { target_distance: { lt: 2.5 } }, intent: 'HOLD' },
    { when: { target_distance: { lt: 60 } }, intent: 'MOVE' },
  ],
  default: 'HOLD',
};

export class RulesPolicy {
  private readonly rules: Array<{ match: Matcher; intent: number }>;
  private readonly fallback: number;

  constructor(spec: RulesPolicySpec, schema: StateSchema, intents: Intents) {
    if (typeof spec !== 'object' || spec === null || !Array.isArray(spec.rules)) {
      throw new SidecarError('E_CONFIG', 'rules_policy must be {rules: [{when, intent}], default}');
    }
    this.rules = spec.rules.map((r, i) => ({
      match: compileCondition(r.when, schema, `rules_policy.rules[${i}]`),
      intent: intents.require(r.intent, `rules_policy.rules[${i}]`),
    }));
    this.fallback = intents.require(spec.default, 'rules_policy.default');
  }

  decide(values: Float64Array): number {
    for (let i = 0; i < this.rules.length; i++) if (this.rules[i].match(values)) return this.rules[i].intent;
    return this.fallback;
  }
}
