import { describe, it, expect } from 'vitest';
import { Monitor } from '../../../src/monitor/metrics.js';
import { evaluateAlerts, canaryWorse, DEFAULT_ALERTS as DEFAULTS } from '../../../src/monitor/alerts.js';

const DEFAULT_ALERTS = { ...DEFAULTS, min_samples: 100 };
import { healthChecks } from '../../../src/monitor/health.js';

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

  it('canary abort: a significantly worse canary arm, and not a noisy equal one', () => {
    expect(canaryWorse({ n: 100, deaths: 30, violations: 0 }, { n: 900, deaths: 90, violations: 0 }, DEFAULT_ALERTS)).toMatchObject({ worse: true, metric: 'death' });
    expect(canaryWorse({ n: 100, deaths: 12, violations: 0 }, { n: 900, deaths: 90, violations: 0 }, DEFAULT_ALERTS).worse).toBe(false);
    expect(canaryWorse({ n: 20, deaths: 20, violations: 0 }, { n: 900, deaths: 0, violations: 0 }, DEFAULT_ALERTS).worse).toBe(false); // too few
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
});
