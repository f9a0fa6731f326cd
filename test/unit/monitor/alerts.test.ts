import { describe, it, expect } from 'vitest';
import { Monitor } from '../../../src/monitor/metrics.js';
import { evaluateAlerts, canaryWorse, DEFAULT_ALERTS as DEFAULTS } from '../../../src/monitor/alerts.js';

const DEFAULT_ALERTS = { ...DEFAULTS, min_samples: 100 };
import { healthChecks } from '../../../src/monitor/health.js';
import { mix32 } from '../../../src/kernel/reference.js';
import { Arms, ARM_CANARY, ARM_INCUMBENT, type AgentTallies } from '../../../src/engine/arms.js';

const names = ['A', 'B', 'STOP'];

describe('Monitor windows', () => {
  it('keeps rates over the last `window` outcomes only', () => {
    const m = new Monitor(100, names);
    for (let i = 0; i < 100; i++) m.outcome(false, true, -5);
    for (let i = 0; i < 100; i++) m.outcome(true, false, 1);
    const w = m.snapshot();
    expect(w).toMatchObject({ survival_rate: 1, violation_rate: 0, reward_mean: 1, outcomes: 100 });
  });

  it('intent distribution, latency percentiles and confidence over the window', () => {
    const m = new Monitor(200, names);
    for (let i = 0; i < 1000; i++) m.served(i % 4 === 0 ? 1 : 0, i < 800 ? 50_000 : 100, 0.5);
    const w = m.snapshot();
    expect(w.cycles).toBe(200);
    expect(w.intent_distribution.A).toBeCloseTo(0.75, 2);
    expect(w.latency_us.p99).toBeLessThan(200); // the slow early cycles have left the window
    expect(w.mean_model_confidence).toBeCloseTo(0.5);
  });
});

describe('alerts', () => {
  const base = () => { const m = new Monitor(1000, names); return m; };
  it('raise SURVIVAL_CRASH and CONTRACT_BREACH as CRITICAL with a mitigation', () => {
    const m = base();
    for (let i = 0; i < 200; i++) { m.served(i % 3, 100, 0.9); m.outcome(i % 3 === 0, i % 5 === 0, 0); }
    const a = evaluateAlerts(m.snapshot(), DEFAULT_ALERTS);
    expect(a.status).toBe('CRITICAL');
    expect(a.alerts.map((x) => x.type).sort()).toEqual(['CONTRACT_BREACH', 'SURVIVAL_CRASH']);
    expect(a.recommended_mitigation).toMatch(/SAFE_MODE/);
  });

  it('warn on confidence collapse, one dominant intent, shadow divergence; stay quiet below min_samples', () => {
    const m = base();
    for (let i = 0; i < 50; i++) { m.served(0, 100, 0.1); m.outcome(false, false, 0); }
    expect(evaluateAlerts(m.snapshot(), DEFAULT_ALERTS).alerts).toEqual([]);
    for (let i = 0; i < 200; i++) { m.served(0, 100, 0.1); m.outcome(true, false, 0); m.shadow(false); }
    const types = evaluateAlerts(m.snapshot(), DEFAULT_ALERTS).alerts.map((x) => x.type);
    expect(types).toEqual(expect.arrayContaining(['CONFIDENCE_COLLAPSE', 'INTENT_DOMINANCE', 'SHADOW_DIVERGENCE']));
  });

  it('flags the latency budget', () => {
    const m = base();
    for (let i = 0; i < 200; i++) m.served(i % 3, 60_000, null);
    expect(evaluateAlerts(m.snapshot(), DEFAULT_ALERTS).alerts.map((x) => x.type)).toContain('LATENCY_BUDGET');
  });

  /** Arms fed `n` outcomes per arm, `deaths` of them deaths, spread over `agents` agents per arm. */
  function arms(canary: { n: number; deaths: number }, incumbent: { n: number; deaths: number }, agents = 20): Arms {
    const a = new Arms(1000, 0.05, 10, true);
    for (const [arm, f] of [[ARM_CANARY, canary], [ARM_INCUMBENT, incumbent]] as const) {
      const holders = Array.from({ length: agents }, () => ({ tallies: null as AgentTallies | null }));
      // Deaths spread evenly through the stream; each outcome an agent drawn at random (fixed seed).
      for (let i = 0; i < f.n; i++) {
        const dead = Math.floor(((i + 1) * f.deaths) / f.n) > Math.floor((i * f.deaths) / f.n);
        a.served(arm, 1, i < agents, true);
        a.outcome(arm, !dead, false, dead ? -5 : 0.05, holders[mix32(arm, i, 7) % agents]);
      }
    }
    return a;
  }
  const WINDOW = { ...DEFAULT_ALERTS, canary_rule: 'window' as const };

  it('canary abort (sequence, the default): a credibly worse canary arm, not a noisy equal one, not too few outcomes', () => {
    expect(DEFAULTS.canary_rule).toBe('sequence');
    const worse = canaryWorse(arms({ n: 400, deaths: 120 }, { n: 3600, deaths: 360 }), DEFAULT_ALERTS);
    expect(worse).toMatchObject({ worse: true, metric: 'death' });
    expect(worse.z).toBeGreaterThan(2);
    expect(worse.detail).toMatch(/^canary arm death rate 0\.30\d+ vs incumbent arm 0\.10\d+ over 400 and 3600 outcomes since the canary started: credibly higher \(sequential test: likelihood ratio [\d.]+e\+\d+ ≥ 1\/0\.01, z [\d.]+\)$/);
    // 12% against 10%: within the noise of 100 outcomes.
    expect(canaryWorse(arms({ n: 100, deaths: 12 }, { n: 900, deaths: 90 }), DEFAULT_ALERTS).worse).toBe(false);
    // Every canary outcome a death, but fewer than canary_min_samples of them.
    expect(canaryWorse(arms({ n: 20, deaths: 20 }, { n: 900, deaths: 0 }), DEFAULT_ALERTS).worse).toBe(false);
    expect(canaryWorse(arms({ n: 60, deaths: 60 }, { n: 900, deaths: 0 }), DEFAULT_ALERTS).worse).toBe(true);
  });

  it('canary abort (sequence): outcomes clustered in two agents are not the evidence of many', () => {
    // 3 deaths in 300 canary outcomes against none in 3,000: the window rule's z is about 5.
    const few = { n: 300, deaths: 3 }, none = { n: 3000, deaths: 0 };
    expect(canaryWorse(arms(few, none), WINDOW)).toMatchObject({ worse: true, metric: 'death' });
    expect(canaryWorse(arms(few, none), DEFAULT_ALERTS).worse).toBe(false);
    expect(canaryWorse(arms({ n: 300, deaths: 150 }, { n: 3000, deaths: 300 }, 2), DEFAULT_ALERTS).worse).toBe(false);
    expect(canaryWorse(arms({ n: 300, deaths: 150 }, { n: 3000, deaths: 300 }, 20), DEFAULT_ALERTS).worse).toBe(true);
  });

  it('canary abort (window): the one-sided z-test of the arms\' last outcomes, on request', () => {
    const w = canaryWorse(arms({ n: 100, deaths: 30 }, { n: 900, deaths: 90 }), WINDOW);
    expect(w).toMatchObject({ worse: true, metric: 'death' });
    expect(w.detail).toMatch(/over their last 100 and 900 outcomes \(z [\d.]+ > 2\.33\)$/);
    expect(canaryWorse(arms({ n: 100, deaths: 12 }, { n: 900, deaths: 90 }), WINDOW).worse).toBe(false);
    expect(canaryWorse(arms({ n: 20, deaths: 20 }, { n: 900, deaths: 0 }), WINDOW).worse).toBe(false); // too few
  });
});

describe('health checklist', () => {
  const hb = (over: Record<string, unknown> = {}) => ({
    active_model: 'V1', active_revision: 2, lockdown: { active: false },
    monitoring: { metrics: { survival_rate: 0.95, violation_rate: 0.001, outcomes_in_window: 1000, cycles_in_window: 1000, latency_us: { p99: 800 }, ...over } },
    online_ml_metrics: { quarantine_by_reason: {} },
  });
  it('passes a healthy system and fails each bar', () => {
    expect(healthChecks(hb(), 'V1')).toMatchObject({ ok: true });
    expect(healthChecks(hb({ survival_rate: 0.8 })).checks[0].verdict).toBe('FAIL');
    expect(healthChecks(hb({ violation_rate: 0.05 })).checks[1].verdict).toBe('FAIL');
    expect(healthChecks(hb(), 'V2').checks[2].verdict).toBe('FAIL');
    expect(healthChecks(hb({ latency_us: { p99: 60_000 } })).checks[4].verdict).toBe('FAIL');
    expect(healthChecks(hb({ survival_rate: 0.8 })).ok).toBe(false);
  });

  it('during a post-promotion watch: the verdict on the served window, the figure also the promoted model\'s own', () => {
    const during = {
      ...hb({ violation_rate: 0.011 }),
      watch: { promoted: { version: 'V1', revision: 2 }, previous: null, holdback_ratio: 0.1 },
      online_ml_metrics: { quarantine_by_reason: {}, canary_arms: { incumbent: { outcomes: 900, survival_rate: 0.99, violation_rate: 0.004 } } },
    };
    const r = healthChecks(during, 'V1');
    expect(r.checks[1]).toEqual({ name: 'Violation rate < 0.01', verdict: 'FAIL',
      figure: '0.0110 over the last 1000 outcomes, during the post-promotion watch (10% of agents held back on the rules policy); V1 alone: 0.0040 over its last 900 outcomes' });
    expect(r.checks[0].figure).toBe('0.950 over the last 1000 outcomes, during the post-promotion watch (10% of agents held back on the rules policy); V1 alone: 0.990 over its last 900 outcomes');
    expect(healthChecks(hb(), 'V1').checks[0].figure).toBe('0.950 over the last 1000 outcomes');
  });
});
