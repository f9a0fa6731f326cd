// `npm run experiment`: the arena learning experiment (src/sim/experiment.ts)
// for both architectures; writes docs/learning.json and the learning curves,
// docs/learning-curves.svg.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/kernel/host.js';
import { learningExperiment, type ExperimentResult } from '../src/sim/experiment.js';
import { lineChart, svgDocument, type Series } from './svg-chart.js';
import { machine } from './common.js';

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const results: ExperimentResult[] = [];
  for (const architecture of ['linear', 'mlp'] as const) {
    console.log(`== ${architecture}`);
    results.push(await learningExperiment({
      seed: 1, agents: 256, maxCanaryCycles: 60_000, trainCycles: quick ? 12_000 : 60_000, evalEvery: quick ? 3000 : 4000, evalSteps: quick ? 3000 : 8000,
      architecture, hidden: 32, onProgress: (l) => console.log(`  ${l}`),
    }));
  }
  const [lin, mlp] = results;
  const ref = (name: string, y: number, color: string, xs: number[]): Series => ({ name, color, dashed: true, points: [[Math.min(...xs), y], [Math.max(...xs), y]] });
  const xs = lin.curve.map((p) => p.cycles);
  const surv = lineChart([
    { name: 'linear candidate', color: '#1f77b4', points: lin.curve.map((p) => [p.cycles, p.survival]) },
    { name: 'mlp candidate (h=32)', color: '#ff7f0e', points: mlp.curve.map((p) => [p.cycles, p.survival]) },
    ref(`rules policy (${lin.rules.survival.toFixed(3)})`, lin.rules.survival, '#d62728', xs),
    ref('target 0.9', 0.9, '#2ca02c', xs),
  ], { title: 'Arena survival: the candidate (greedy) while it learns in shadow', xLabel: 'training cycles (served by the rules policy, candidate in shadow)', yLabel: 'survival rate', yMin: 0.7, yMax: 1 });
  const viol = lineChart([
    { name: 'linear candidate', color: '#1f77b4', points: lin.curve.map((p) => [p.cycles, p.violations]) },
    { name: 'mlp candidate (h=32)', color: '#ff7f0e', points: mlp.curve.map((p) => [p.cycles, p.violations]) },
    ref(`rules policy (${lin.rules.violations.toFixed(3)})`, lin.rules.violations, '#d62728', xs),
    ref('target 0.01', 0.01, '#2ca02c', xs),
  ], { title: 'Arena violation rate', xLabel: 'training cycles', yLabel: 'violation rate', yMin: 0, yMax: 0.1 }, 300);
  const docs = join(packageRoot(), 'docs');
  mkdirSync(docs, { recursive: true });
  writeFileSync(join(docs, 'learning-curves.svg'), svgDocument([surv, viol], 720, 600));
  writeFileSync(join(docs, 'learning.json'), JSON.stringify({ machine: machine(), quick, results }, null, 2) + '\n');
  console.log('written docs/learning-curves.svg and docs/learning.json');
  for (const r of results) {
    console.log(`${r.options.architecture}: rules ${fmt(r.rules)}; fresh ${fmt(r.fresh)}; after ${r.options.trainCycles} cycles, promotion ${r.promotion.status}, promoted (serving, epsilon 0.05) ${fmt(r.promoted)}`);
  }
}

const fmt = (r: { survival: number; violations: number }) => `survival ${r.survival.toFixed(3)}, violations ${r.violations.toFixed(4)}`;

main().catch((e: unknown) => { console.error(e); process.exit(1); });
