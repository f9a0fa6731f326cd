// `npm run bench:compare -- REF [--rounds N] [--quick] [--no-e2e]`: the
// engine bench of this tree and of another commit (REF, e.g. the previous
// one), and an end-to-end TCP load at 10,000 cycles/s on each build's
// `shadowpath serve` (p50, p99 and the server's CPU per cycle;
// bench/e2e-compare.ts), built side by side and run alternately in one
// session on this machine, so a comparison is a ratio measured under the
// same conditions. Prints each round, the medians and the ratios; writes
// bench/results/compare.json.
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
import { e2eRound, E2E_RATE, type E2eFigures } from './e2e-compare.js';

interface Figures { engine_p99_us_at_1k: number; engine_p99_us_at_10k: number; engine_p50_us_at_10k: number; engine_max_cycles_per_s: number }

function usage(): never {
  console.error('usage: npm run bench:compare -- REF [--rounds N] [--quick] [--no-e2e]');
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

/** Per key: the median of the rounds of each side and the ratio this / ref. */
function summarize<T extends object>(a: T[], b: T[]): { this: T; ref: T; ratios: Record<string, number> } {
  const keys = Object.keys(a[0]) as Array<keyof T & string>;
  const med = (xs: T[]) => Object.fromEntries(keys.map((k) => [k, median(xs.map((x) => x[k] as number))])) as T;
  const ma = med(a), mb = med(b);
  const ratios = Object.fromEntries(keys.map((k) => [k, (mb[k] as number) === 0 ? NaN : Math.round(((ma[k] as number) / (mb[k] as number)) * 100) / 100]));
  return { this: ma, ref: mb, ratios };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const ref = args.find((a) => !a.startsWith('--') && !/^\d+$/.test(a));
  if (!ref) usage();
  const ri = args.indexOf('--rounds');
  const rounds = ri >= 0 ? Number(args[ri + 1]) : 3;
  const quick = args.includes('--quick');
  const e2e = !args.includes('--no-e2e');
  // End to end: 5 s measured after a 2 s warm-up (quick: 2 s after 1 s), as the CPU bench's runs.
  const e2eSeconds = quick ? 2 : 5, e2eWarm = quick ? 1 : 2;
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
    if (e2e && !existsSync(join(other, 'dist', 'src', 'cli', 'main.js'))) throw new Error(`${ref} has no dist/src/cli/main.js to serve end to end (run with --no-e2e)`);
    const m = machine();
    console.log(`engine bench${e2e ? ` and end to end TCP at ${E2E_RATE}/s (${e2eSeconds} s after a ${e2eWarm} s warm-up, timer-paced)` : ''}, ${rounds} round(s) alternating, ${quick ? 'quick' : 'full'} — ${m.cpus} × ${m.cpu_model}, Node ${m.node}`);
    const a: Figures[] = [], b: Figures[] = [];
    const ea: E2eFigures[] = [], eb: E2eFigures[] = [];
    for (let i = 0; i < rounds; i++) {
      // Alternate which goes first, so drift in the machine's load does not favour one side.
      const order = i % 2 === 0 ? ['this', 'ref'] : ['ref', 'this'];
      for (const side of order) {
        const root = side === 'this' ? here : other;
        const f = measure(root, quick);
        (side === 'this' ? a : b).push(f);
        console.log(`  round ${i + 1} ${side.padEnd(4)} engine: p99@1k ${f.engine_p99_us_at_1k} µs, p50@10k ${f.engine_p50_us_at_10k} µs, p99@10k ${f.engine_p99_us_at_10k} µs, max ${f.engine_max_cycles_per_s} cycles/s`);
        if (!e2e) continue;
        const g = await e2eRound(root, e2eSeconds, e2eWarm);
        (side === 'this' ? ea : eb).push(g);
        console.log(`  round ${i + 1} ${side.padEnd(4)} e2e tcp@10k: p50 ${g.e2e_tcp_p50_us_at_10k} µs, p99 ${g.e2e_tcp_p99_us_at_10k} µs, ${g.e2e_cpu_us_per_cycle_at_10k} µs CPU/cycle, ${g.e2e_achieved_per_s_at_10k}/s achieved, ${g.e2e_errors_at_10k} errors`);
      }
    }
    const eng = summarize(a, b);
    console.log(`\nengine medians this (${headSha.slice(0, 12)}): ${JSON.stringify(eng.this)}\nengine medians ref  (${sha.slice(0, 12)}): ${JSON.stringify(eng.ref)}\nengine ratios this/ref: ${JSON.stringify(eng.ratios)}`);
    const end = e2e ? summarize(ea, eb) : null;
    if (end) console.log(`e2e medians this: ${JSON.stringify(end.this)}\ne2e medians ref:  ${JSON.stringify(end.ref)}\ne2e ratios this/ref: ${JSON.stringify(end.ratios)}`);
    console.log('(latency and CPU per cycle: a ratio below 1 is better; max cycles/s and achieved: above 1 is better)');
    const dir = join(here, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'compare.json'), JSON.stringify({
      machine: m, quick, rounds, this: headSha, ref: sha, rounds_this: a, rounds_ref: b, median_this: eng.this, median_ref: eng.ref, ratio_this_over_ref: eng.ratios,
      ...(end ? { e2e: { rate: E2E_RATE, seconds: e2eSeconds, warm_up_seconds: e2eWarm, rounds_this: ea, rounds_ref: eb, median_this: end.this, median_ref: end.ref, ratio_this_over_ref: end.ratios } } : {}),
    }, null, 2) + '\n');
    console.log('written bench/results/compare.json');
  } finally {
    spawnSync('git', ['worktree', 'remove', '--force', other], { cwd: here });
    rmSync(base, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (e) => {
  console.error(`bench:compare: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
