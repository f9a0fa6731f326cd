// The runbook's daily health checklist, from a HEARTBEAT: five checks, each
// PASS, WARN or FAIL with its figure.
export type Verdict = 'PASS' | 'WARN' | 'FAIL';

export interface Check { name: string; verdict: Verdict; figure: string }

export interface HealthReport { ok: boolean; checks: Check[] }

export function healthChecks(hb: Record<string, any>, expectModel?: string): HealthReport {
  const m = hb.monitoring?.metrics ?? {};
  const checks: Check[] = [];
  const rate = (v: number | null | undefined, digits: number) => (v === null || v === undefined ? 'n/a' : v.toFixed(digits));
  const outcomes = m.outcomes_in_window ?? 0;
  // During a post-promotion watch the served window mixes the promoted model's
  // decisions with the holdback arm's (the previous policy): the verdict stays
  // on what agents were served, and the figure adds the model's own window.
  const own = watchOwn(hb);
  // Survival rate > 0.9
  if (m.survival_rate === null || m.survival_rate === undefined || outcomes === 0) checks.push({ name: 'Survival rate > 0.9', verdict: 'WARN', figure: 'no outcomes in the window yet' });
  else checks.push({ name: 'Survival rate > 0.9', verdict: m.survival_rate > 0.9 ? 'PASS' : 'FAIL', figure: `${rate(m.survival_rate, 3)} over the last ${outcomes} outcomes${own ? own('survival_rate', 3) : ''}` });
  // Violation rate < 0.01
  if (m.violation_rate === null || m.violation_rate === undefined || outcomes === 0) checks.push({ name: 'Violation rate < 0.01', verdict: 'WARN', figure: 'no outcomes in the window yet' });
  else checks.push({ name: 'Violation rate < 0.01', verdict: m.violation_rate < 0.01 ? 'PASS' : 'FAIL', figure: `${rate(m.violation_rate, 4)} over the last ${outcomes} outcomes${own ? own('violation_rate', 4) : ''}` });
  // Active model
  const active = hb.active_model as string | null;
  const activeText = active ? `${active} (revision ${hb.active_revision})` : 'none (the rules policy decides)';
  if (expectModel !== undefined) checks.push({ name: 'Active model matches expectations', verdict: active === expectModel ? 'PASS' : 'FAIL', figure: `${activeText}; expected ${expectModel}` });
  else checks.push({ name: 'Active model matches expectations', verdict: active ? 'PASS' : 'WARN', figure: `${activeText}${hb.lockdown?.active ? '; LOCKDOWN is active' : ''} (give --expect-model to check it)` });
  // Quarantine
  const q = hb.online_ml_metrics?.quarantine_by_reason ?? {};
  const qTotal = Object.values(q as Record<string, number>).reduce((a, b) => a + b, 0);
  checks.push({ name: 'Quarantine inspected', verdict: qTotal === 0 ? 'PASS' : 'WARN',
    figure: qTotal === 0 ? 'empty' : `${qTotal} blocked: ${Object.entries(q).map(([r, n]) => `${r} ${n}`).join(', ')} (shadowpath quarantine ls)` });
  // Latency p99 < 50 ms
  const p99 = m.latency_us?.p99;
  if (p99 === undefined || (m.cycles_in_window ?? 0) === 0) checks.push({ name: 'Latency p99 < 50 ms', verdict: 'WARN', figure: 'no cycles yet' });
  else checks.push({ name: 'Latency p99 < 50 ms', verdict: p99 < 50_000 ? 'PASS' : 'FAIL', figure: `${(p99 / 1000).toFixed(3)} ms over the last ${m.cycles_in_window} cycles` });
  return { ok: !checks.some((c) => c.verdict === 'FAIL'), checks };
}

/** During a watch: the promoted model's own figure (the incumbent arm's window) as a suffix; null without a watch. */
function watchOwn(hb: Record<string, any>): ((k: 'survival_rate' | 'violation_rate', digits: number) => string) | null {
  const w = hb.watch;
  const arm = hb.online_ml_metrics?.canary_arms?.incumbent;
  if (!w) return null;
  const share = `${(Number(w.holdback_ratio) * 100).toFixed(0)}% of agents held back on ${String(w.previous?.version ?? 'the rules policy')}`;
  return (k, digits) => {
    const v = arm?.[k];
    return typeof v === 'number'
      ? `, during the post-promotion watch (${share}); ${String(w.promoted?.version)} alone: ${v.toFixed(digits)} over its last ${String(arm.outcomes)} outcomes`
      : `, during the post-promotion watch (${share})`;
  };
}

export function formatHealth(r: HealthReport): string {
  return r.checks.map((c) => `${c.verdict.padEnd(4)}  ${c.name.padEnd(34)} ${c.figure}`).join('\n');
}
