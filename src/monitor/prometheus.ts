// GET /metrics: Prometheus text format through prom-client. Counters and
// gauges are read from the sidecar's own figures at scrape time; only the
// latency histogram is fed per cycle.
import client from 'prom-client';
import { CycleLatencyHistogram } from './latency-histogram.js';
import type { Sidecar } from '../sidecar.js';
import type { ArmSnapshot } from '../engine/arms.js';

const MODES = ['NORMAL', 'SAFE_MODE', 'SHADOW_LEARNING_PAUSE', 'TEMPORAL_LOCK', 'READ_ONLY_DISK', 'LOCKDOWN'];

export function prometheus(s: Sidecar): { contentType: string; metrics: () => Promise<string> } {
  const registry = new client.Registry();
  const e = s.engine;
  // Fed per cycle, so not prom-client's Histogram (see latency-histogram.ts).
  const latency = new CycleLatencyHistogram('shadowpath_cycle_latency_seconds', 'Cycle latency, from arrival to reply.',
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25]);
  registry.registerMetric(latency as unknown as client.Metric);
  e.stats.onLatency = (us) => latency.observeUs(us);
  const gauge = (name: string, help: string, read: () => number | null, labelNames: string[] = []) =>
    new client.Gauge({ name, help, registers: [registry], labelNames, collect() { const v = read(); if (v !== null) this.set(v); } });
  new client.Counter({ name: 'shadowpath_cycles_total', help: 'Cycles answered.', registers: [registry], collect() { this.reset(); this.inc(e.stats.cycles); } });
  new client.Counter({
    name: 'shadowpath_intents_total', help: 'Cycles answered, by intent served.', labelNames: ['intent'], registers: [registry],
    collect() { this.reset(); e.intents.names.forEach((n, i) => this.inc({ intent: n }, e.stats.byIntent[i])); },
  });
  new client.Counter({
    name: 'shadowpath_policy_source_total', help: 'Cycles answered, by policy source.', labelNames: ['source'], registers: [registry],
    collect() { this.reset(); for (const [k, v] of Object.entries(e.stats.bySource)) this.inc({ source: k }, v); },
  });
  gauge('shadowpath_survival_rate', 'Share of outcomes alive over the monitoring window.', () => e.monitor.snapshot().survival_rate);
  gauge('shadowpath_violation_rate', 'Share of outcomes with a safety violation over the monitoring window.', () => e.monitor.snapshot().violation_rate);
  new client.Gauge({
    name: 'shadowpath_failure_mode', help: '1 for the current failure mode.', labelNames: ['mode'], registers: [registry],
    collect() { const cur = e.view.lockdown ? 'LOCKDOWN' : e.view.mode; for (const m of MODES) this.set({ mode: m }, m === cur ? 1 : 0); },
  });
  gauge('shadowpath_lockdown', '1 while the emergency lockdown is latched.', () => (e.view.lockdown ? 1 : 0));
  gauge('shadowpath_canary_ratio', 'Share of agents in the canary arm (served by the candidate).', () => e.view.canaryRatio);
  gauge('shadowpath_quarantined_total', 'Experiences quarantined (since start-up files included).', () => s.quarantine.total);
  gauge('shadowpath_audit_length', 'Records in the audit log.', () => s.audit.length);
  gauge('shadowpath_learning_updates_total', 'Learning updates applied to the candidate.', () => e.stats.learningUpdates);
  gauge('shadowpath_shadow_sample_size', 'Shadow cycles of the current candidate.', () => e.shadow.samples);
  // Per-arm window figures (incumbent, canary, holdback): the canary's and the watch's evidence at a glance.
  const armGauge = (name: string, help: string, pick: (a: ArmSnapshot) => number | null) => new client.Gauge({
    name, help, labelNames: ['arm'], registers: [registry],
    // reset() first: an arm with no figure (new arms) shows no sample, not the last arms' value.
    collect() { this.reset(); for (const [arm, a] of Object.entries(e.arms.snapshotCached())) { const v = pick(a); if (v !== null) this.set({ arm }, v); } },
  });
  armGauge('shadowpath_arm_agents', 'Agents seen in each arm since the arms were drawn.', (a) => a.agents);
  armGauge('shadowpath_arm_cycles', 'Cycles served in each arm since the arms were drawn.', (a) => a.cycles);
  armGauge('shadowpath_arm_survival_rate', 'Share of outcomes alive in each arm over its window.', (a) => a.survival_rate);
  armGauge('shadowpath_arm_violation_rate', 'Share of outcomes with a violation in each arm over its window.', (a) => a.violation_rate);
  armGauge('shadowpath_arm_reward_mean', 'Mean reward in each arm over its window.', (a) => a.reward_mean);
  armGauge('shadowpath_arm_latency_p99_seconds', 'p99 cycle latency in each arm over its window.', (a) => (a.latency_us ? a.latency_us.p99 / 1e6 : null));
  gauge('shadowpath_incidents_total', 'Incidents recorded (control state).', () => s.control.state.failure.incident_count);
  return { contentType: registry.contentType, metrics: () => registry.metrics() };
}
