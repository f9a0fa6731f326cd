// `npm run experiment:gate`: the promotion gate's figures, written to
// docs/gate.json (and printed): false passes under repeated asking
// (simulation over the gate function), planted regressions in the arena,
// the cycles a better candidate needs to reach production, and automatic
// rollbacks by the post-promotion watch. `--quick` runs fewer seeds.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/kernel/host.js';
import { simulateGate } from '../src/sim/gate-sim.js';
import { simulateAgents } from '../src/sim/gate-sim-agents.js';
import { simulateAbort } from '../src/sim/abort-sim.js';
import { DEFAULT_GATE } from '../src/control/gate.js';
import { plantedRegression, goodCandidate, watchRollback, STALKER_WORLD, STALKER_RULES } from '../src/sim/gate-experiment.js';
import { machine } from './common.js';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const t0 = performance.now();
  const seeds = quick ? 200 : 1000;
  const prod = { death: 0.1, violation: 0.02 };
  const sim = { seeds, horizon: 20_000, askEvery: 100, canaryRatio: 0.1, incumbent: prod };
  console.log(`== simulation: PROMOTE_CANDIDATE asked every 100 cycles for 20,000 cycles, ${seeds} seeds, canary ratio 0.1`);
  const simulations = {
    regression_survival_margin: simulateGate({ ...sim, candidate: { death: 0.1 + DEFAULT_GATE.margin_survival, violation: 0.02 } }),
    regression_violation_margin: simulateGate({ ...sim, candidate: { death: 0.1, violation: 0.02 + DEFAULT_GATE.margin_violation } }),
    equal_zero_margins: simulateGate({ ...sim, candidate: prod, gate: { margin_survival: 0, margin_violation: 0, margin_reward: 0 } }),
    equal_default_margins: simulateGate({ ...sim, seeds: Math.min(seeds, 300), horizon: 40_000, candidate: prod }),
    better: simulateGate({ ...sim, seeds: Math.min(seeds, 300), candidate: { death: 0.05, violation: 0 } }),
  };
  for (const [k, r] of Object.entries(simulations)) {
    console.log(`  ${k.padEnd(28)} passes ${(r.pass_rate * 100).toFixed(1)}% of runs (naive fixed-sample 95% interval: ${(r.naive_pass_rate * 100).toFixed(1)}%)` +
      (r.cycles_to_pass.median !== null ? `; cycles to pass: median ${r.cycles_to_pass.median}, p90 ${r.cycles_to_pass.p90}` : ''));
  }
  console.log('== simulation: persistent agents of differing risk (each agent\'s death rate the policy\'s ± up to the spread), sticky 10% canary, asked every 1,000 of 30,000 cycles');
  const agentSeeds = quick ? 60 : 200;
  const agentRuns: Array<{ case: string; agents: number; spread: number; clustered: boolean; pass_rate: number; runs: number }> = [];
  for (const agents of [30, 100, 400]) {
    for (const spread of [0, 0.05, 0.1]) {
      for (const clustered of [false, true]) {
        for (const [name, cand] of [['regression_survival_margin', 0.1 + DEFAULT_GATE.margin_survival], ['better', 0.06]] as const) {
          if (name === 'better' && !clustered) continue;
          const r = simulateAgents({ seeds: name === 'better' ? Math.min(agentSeeds, 40) : agentSeeds, horizon: 30_000, askEvery: 1000, canaryRatio: 0.1, agents, spread, incumbentDeath: 0.1, candidateDeath: cand, clustered });
          agentRuns.push({ case: name, agents, spread, clustered, pass_rate: r.passes / Math.max(1, r.runs - r.empty_canary_runs), runs: r.runs - r.empty_canary_runs });
          console.log(`  ${name.padEnd(28)} ${String(agents).padStart(3)} agents, spread ±${spread}: ${clustered ? 'clustered bounds' : 'as if independent'} pass ${(agentRuns.at(-1)!.pass_rate * 100).toFixed(1)}% of ${agentRuns.at(-1)!.runs} runs`);
        }
      }
    }
  }
  const worstClustered = Math.max(...agentRuns.filter((r) => r.case !== 'better' && r.clustered).map((r) => r.pass_rate));
  const worstIndependent = Math.max(...agentRuns.filter((r) => r.case !== 'better' && !r.clustered).map((r) => r.pass_rate));
  console.log('== simulation: the canary\'s automatic abort, checked every 400 cycles (every 200 ms at 2,000 cycles/s) over 10,000 canary-phase cycles, sticky 10% canary, agents\' rates the policy\'s × (1 ± up to 0.5)');
  const abortSeeds = quick ? 100 : 400;
  const abortRuns: Array<{ case: string; rule: string; agents: number; incumbent: { death: number; violation: number }; canary: { death: number; violation: number }; abort_rate: number; runs: number; median_cycles_to_abort: number | null }> = [];
  const cases: Array<[string, number, number, number, number, number]> = [
    // name, agents, incumbent death, canary death, incumbent violation, canary violation
    ['equal (demo-like rates)', 256, 0.01, 0.01, 0.006, 0.006],
    ['equal (demo-like rates)', 30, 0.01, 0.01, 0.006, 0.006],
    ['equal (gate-sim rates)', 256, 0.1, 0.1, 0.02, 0.02],
    ['death rate x2', 256, 0.01, 0.02, 0.006, 0.006],
    ['death rate x3', 256, 0.01, 0.03, 0.006, 0.006],
    ['violation rate x3', 256, 0.01, 0.01, 0.006, 0.018],
    ['death 0.1 → 0.2', 256, 0.1, 0.2, 0.02, 0.02],
    ['death 0.03 → 0.37 (a plant)', 256, 0.03, 0.37, 0.02, 0.02],
  ];
  for (const [name, agents, id, cd, iv, cv] of cases) {
    for (const rule of ['window', 'sequence'] as const) {
      const r = simulateAbort({ seeds: abortSeeds, horizon: 10_000, lookEvery: 400, canaryRatio: 0.1, agents, spread: 0.5, incumbentDeath: id, candidateDeath: cd, incumbentViolation: iv, candidateViolation: cv, rule });
      abortRuns.push({ case: name, rule, agents, incumbent: { death: id, violation: iv }, canary: { death: cd, violation: cv }, abort_rate: r.abort_rate, runs: r.runs, median_cycles_to_abort: r.median_cycles_to_abort });
      console.log(`  ${name.padEnd(28)} ${String(agents).padStart(3)} agents, rule ${rule.padEnd(8)}: aborted ${(r.abort_rate * 100).toFixed(1)}% of ${r.runs} runs${r.median_cycles_to_abort !== null ? ` (median after ${r.median_cycles_to_abort} cycles)` : ''}`);
    }
  }
  const falseAbort = (rule: string) => Math.max(...abortRuns.filter((r) => r.case.startsWith('equal') && r.rule === rule).map((r) => r.abort_rate));
  console.log('== arena: planted regressions (learning rate 0, registered with weights), 3,000 shadow cycles, then canary 0.1, asked after every 1,000 cycles');
  const common = { agents: 400, shadowCycles: 3000, canaryCycles: quick ? 20_000 : 40_000, askEvery: 1000, canaryRatio: 0.1 };
  const plants = [];
  for (const seed of quick ? [3] : [3, 13, 23]) {
    plants.push(await plantedRegression({ ...common, seed, world: STALKER_WORLD, rules: STALKER_RULES, name: 'hold-while-stalked', intent: 'HOLD', harm: 'delayed' }));
    plants.push(await plantedRegression({ ...common, seed, world: {}, name: 'always-attack', intent: 'PRIMARY_ATTACK', harm: 'immediate' }));
  }
  for (const p of plants) {
    console.log(`  ${p.name.padEnd(20)} (${p.harm}) survival ${p.survival_plant.toFixed(3)} vs production ${p.survival_production.toFixed(3)}: ` +
      `${p.passed ? 'PASSED (false pass)' : 'refused'} after ${p.asked} asks${p.canary_aborted ? ', canary auto-aborted' : ''} — ${p.final.reason}`);
  }
  console.log('== arena: a candidate learned in shadow (20,000 cycles), then canary 0.1, asked after every 1,000 cycles');
  const good = [];
  for (const seed of quick ? [5] : [5, 15, 25]) {
    const g = await goodCandidate({ seed, agents: 400, shadowCycles: 20_000, canaryRatio: 0.1, askEvery: 1000, maxCanaryCycles: 60_000 });
    good.push(g);
    console.log(`  seed ${seed}: ${g.passed ? `promoted on ${g.evidence} evidence after ${g.canary_cycles_to_pass} canary-phase cycles` : 'not promoted'}; survival ${g.survival_before.toFixed(3)} → ${g.survival_after.toFixed(3)}`);
  }
  console.log('== arena: a regression forced into production; the watch (5,000 cycles, 10% holdback on the previous policy)');
  const watches = [];
  for (const seed of quick ? [4] : [4, 14, 24]) {
    const w = await watchRollback({ seed, agents: 400, intent: 'HOLD', world: STALKER_WORLD, rules: STALKER_RULES, maxCycles: 20_000 });
    watches.push(w);
    console.log(`  seed ${seed}: ${w.rolled_back ? `rolled back automatically after ${w.cycles_to_rollback} cycles (incident ${w.incident?.type}, operator ${w.incident?.operator})` : 'NOT rolled back'}`);
  }
  const out = {
    machine: machine(), quick, seconds: Math.round((performance.now() - t0) / 100) / 10,
    commands: ['npm run experiment:gate', 'npm run experiment:gate -- --quick'],
    gate_defaults: DEFAULT_GATE,
    simulations, agent_simulations: agentRuns, abort_simulations: abortRuns, planted_regressions: plants, good_candidates: good, watch_rollbacks: watches,
    summary: {
      false_pass_rate_regression_survival: simulations.regression_survival_margin.pass_rate,
      false_pass_rate_regression_violation: simulations.regression_violation_margin.pass_rate,
      false_pass_rate_equal_zero_margin: simulations.equal_zero_margins.pass_rate,
      naive_false_pass_rate_regression_survival: simulations.regression_survival_margin.naive_pass_rate,
      false_pass_rate_differing_agents_worst: worstClustered,
      false_pass_rate_differing_agents_worst_unclustered: worstIndependent,
      false_abort_rate_equal_canary_worst: falseAbort('sequence'),
      false_abort_rate_equal_canary_worst_window_rule: falseAbort('window'),
      planted_regressions_passed: plants.filter((p) => p.passed).length, planted_regressions: plants.length,
      good_candidates_promoted: good.filter((g) => g.passed).length, good_candidates: good.length,
      median_canary_cycles_to_promote: median(good.filter((g) => g.passed).map((g) => g.canary_cycles_to_pass!)),
      forced_regressions_rolled_back: watches.filter((w) => w.rolled_back).length, forced_regressions: watches.length,
    },
  };
  const docs = join(packageRoot(), 'docs');
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'gate.json'), JSON.stringify(out, null, 2) + '\n');
  console.log(`written docs/gate.json in ${out.seconds}s: ${JSON.stringify(out.summary)}`);
}

function median(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
