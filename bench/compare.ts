// `npm run bench:compare -- REF [--rounds N] [--quick]`: the engine bench of
// this tree and of another commit (REF, e.g. the previous one), built side by
// side and run alternately in one session on this machine, so a comparison is
// a ratio measured under the same conditions. Prints each round and the
// medians; writes bench/results/compare.json.
//
// REF is checked out into a temporary git worktree and built there with this
// tree's node_modules (symlinked): it needs the same dependencies, which holds
// for the commits this project compares against.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/kernel/host.js';
import { machine } from './common.js';

interface Figures { engine_p99_us_at_1k: number; engine_p99_us_at_10k: number; engine_p50_us_at_10k: number; engine_max_cycles_per_s: number }

function usage(): never {
  console.error('usage: npm run bench:compare -- REF [--rounds N] [--quick]');
  process.exit(2);
}

/** One engine bench in a fresh process of `root`'s build (its own engine.bench.js). */
function measure(root: string, quick: boolean): Figures {
  const script = `import(${JSON.stringify(join(root, 'dist', 'bench', 'engine.bench.js'))}).then(async (m) => {
    const r = await m.engineBench({ quick: ${quick} });
    const at = (rate) => r.fixed.find((x) => x.offered_per_s === rate);
    console.log(JSON.stringify({ engine_p99_us_at_1k: at(1000).p99_us, engine_p99_us_at_10k: at(10000).p99_us, engine_p50_us_at_10k: at(10000).p50_us, engine_max_cycles_per_s: r.max_cycles_per_s }));
    process.exit(0);
  })`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', env: { ...process.env, UV_THREADPOOL_SIZE: '2' }, timeout: 600_000 });
  if (out.status !== 0) throw new Error(`bench in ${root} failed: ${out.stderr.slice(-2000)}`);
  const line = out.stdout.trim().split('\n').at(-1)!;
  return JSON.parse(line) as Figures;
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

function main(): void {
  const args = process.argv.slice(2);
  const ref = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  if (!ref) usage();
  const ri = args.indexOf('--rounds');
  const rounds = ri >= 0 ? Number(args[ri + 1]) : 3;
  const quick = args.includes('--quick');
  const here = packageRoot();
  const sha = execFileSync('git', ['rev-parse', ref], { cwd: here, encoding: 'utf8' }).trim();
  const headSha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: here, encoding: 'utf8' }).trim();
  const base = mkdtempSync(join(tmpdir(), 'shadowpath-compare-'));
  const other = join(base, 'tree');
  try {
    console.log(`building ${ref} (${sha.slice(0, 12)}) in ${other} …`);
    execFileSync('git', ['worktree', 'add', '--detach', other, sha], { cwd: here, stdio: 'ignore' });
    symlinkSync(join(here, 'node_modules'), join(other, 'node_modules'));
    for (const step of [['asc', 'assembly/index.ts', '--target', 'release'], ['tsc', '-p', 'tsconfig.json']]) {
      const r = spawnSync(join(here, 'node_modules', '.bin', step[0]), step.slice(1), { cwd: other, encoding: 'utf8' });
      if (r.status !== 0 && !existsSync(join(other, 'dist', 'bench', 'engine.bench.js'))) throw new Error(`${step[0]} failed in ${ref}: ${r.stdout}${r.stderr}`);
    }
    const m = machine();
    console.log(`engine bench, ${rounds} round(s) alternating, ${quick ? 'quick' : 'full'} — ${m.cpus} × ${m.cpu_model}, Node ${m.node}`);
    const a: Figures[] = [], b: Figures[] = [];
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first, so drift in the machine's load does not favour one side.
      const order = i % 2 === 0 ? ['this', 'ref'] : ['ref', 'this'];
      for (const side of order) {
        const f = measure(side === 'this' ? here : other, quick);
        (side === 'this' ? a : b).push(f);
        console.log(`  round ${i + 1} ${side.padEnd(4)} p99@1k ${f.engine_p99_us_at_1k} µs, p50@10k ${f.engine_p50_us_at_10k} µs, p99@10k ${f.engine_p99_us_at_10k} µs, max ${f.engine_max_cycles_per_s} cycles/s`);
      }
    }
    const keys = Object.keys(a[0]) as Array<keyof Figures>;
    const med = (xs: Figures[]) => Object.fromEntries(keys.map((k) => [k, median(xs.map((x) => x[k]))])) as unknown as Figures;
    const ma = med(a), mb = med(b);
    const ratios = Object.fromEntries(keys.map((k) => [k, Math.round((ma[k] / mb[k]) * 100) / 100]));
    console.log(`\nmedians this (${headSha.slice(0, 12)}): ${JSON.stringify(ma)}\nmedians ref  (${sha.slice(0, 12)}): ${JSON.stringify(mb)}\nratios this/ref: ${JSON.stringify(ratios)}`);
    console.log('(latency: a ratio below 1 is better; max cycles/s: above 1 is better)');
    const dir = join(here, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'compare.json'), JSON.stringify({ machine: m, quick, rounds, this: headSha, ref: sha, rounds_this: a, rounds_ref: b, median_this: ma, median_ref: mb, ratio_this_over_ref: ratios }, null, 2) + '\n');
    console.log('written bench/results/compare.json');
  } finally {
    spawnSync('git', ['worktree', 'remove', '--force', other], { cwd: here });
    rmSync(base, { recursive: true, force: true });
  }
}

main();
