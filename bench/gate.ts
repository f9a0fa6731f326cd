// `npm run experiment:gate`: the promotion gate's figures, written to
// docs/gate.json (and printed): false passes under repeated asking
// (simulation over the gate function), planted regressions in the arena,
// the cycles a better candidate needs to reach production, and automatic
// rollbacks by the post-promotion watch. `--quick` runs fewer seeds.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/kernel/host.js';
import { simulateGate } from '../src/sim/gate-sim.js';
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
    simulations, planted_regressions: plants, good_candidates: good, watch_rollbacks: watches,
    summary: {
      false_pass_rate_regression_survival: simulations.regression_survival_margin.pass_rate,
      false_pass_rate_regression_violation: simulations.regression_violation_margin.pass_rate,
      false_pass_rate_equal_zero_margin: simulations.equal_zero_margins.pass_rate,
      naive_false_pass_rate_regression_survival: simulations.regression_survival_margin.naive_pass_rate,
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
