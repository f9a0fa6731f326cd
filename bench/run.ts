// The sidecar's own setting (see src/cli/serve.ts): fewer libuv threads doing
// fsyncs contend less with the cycle path on a 2-vCPU machine. Read by libuv
// when its thread pool first starts, which no import below does.
process.env.UV_THREADPOOL_SIZE ??= '2';

// `npm run bench [-- --quick]`: runs every scenario, prints a table per
// scenario, writes bench/results/latest.json and exits non-zero when any
// measured p99 reaches the 50 ms budget. `npm run bench -- --cpu [--quick]`
// runs only the CPU-per-cycle scenario (bench/cpu.bench.ts) and writes
// bench/results/cpu.json, leaving latest.json alone; `--cases k1,k2` with
// --cpu runs only those loads (e.g. `--cases tcp_5k_model`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../src/kernel/host.js';
import { machine, type BenchOptions } from './common.js';
import { kernelBench, printKernel } from './kernel.bench.js';
import { poolBench, printPool } from './pool.bench.js';
import { engineBench, printLoadRows, SUSTAIN_P99_US } from './engine.bench.js';
import { commandsBench, printCommands } from './commands.bench.js';
import { e2eBench, printE2e } from './e2e.bench.js';
import { cpuBench, cpuSummary, printCpu } from './cpu.bench.js';

const BUDGET_US = 50_000;

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const ci = args.indexOf('--cases');
  const only = ci >= 0 ? (args[ci + 1] ?? '').split(',').filter((k) => k !== '') : undefined;
  const unknown = args.filter((a, i) => a !== '--quick' && a !== '--cpu' && !(ci >= 0 && (i === ci || i === ci + 1)));
  if (unknown.length > 0 || (only !== undefined && (only.length === 0 || !args.includes('--cpu')))) {
    console.error(`bench: unknown argument ${unknown[0] ?? '--cases'} (usage: npm run bench [-- --quick] [--cpu [--cases k1,k2]])`);
    return 2;
  }
  const opts: BenchOptions = { quick: args.includes('--quick') };
  const t0 = performance.now();
  const m = machine();
  console.log(`shadowpath bench${opts.quick ? ' (quick)' : ''}${args.includes('--cpu') ? ' (cpu only)' : ''} — ${m.cpus} × ${m.cpu_model}, ${m.memory_gib} GiB, Node ${m.node}, ${m.date}`);
  if (args.includes('--cpu')) {
    const cpu = await cpuBench({ ...opts, only });
    console.log(printCpu(cpu));
    const summary = cpuSummary(cpu);
    const dir = join(packageRoot(), 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const seconds = round((performance.now() - t0) / 1000);
    writeFileSync(join(dir, 'cpu.json'), JSON.stringify({ machine: m, quick: opts.quick, seconds, summary, cpu }, null, 2) + '\n');
    console.log('\nsummary', JSON.stringify(summary, null, 2));
    console.log(`written bench/results/cpu.json in ${seconds} s`);
    return 0;
  }

  const kernel = kernelBench(opts);
  console.log(printKernel(kernel));
  const pool = await poolBench(opts);
  console.log(printPool(pool));
  const engine = await engineBench(opts);
  console.log(printLoadRows('Engine in-process, open loop (default pool: 2 workers; prod + shadow candidate mlp h=32 learning from every cycle, no canary)', engine.fixed));
  console.log(printLoadRows(`Engine: highest sustained rate (achieved ≥ 95% of offered, no errors, p99 < ${SUSTAIN_P99_US / 1000} ms)`, engine.search));
  console.log(`  pool: ${engine.pool.batches} batches, ${engine.mean_batch_rows} rows each on average, ${engine.pool.stolen} run by the main thread after a late worker wake-up, ${engine.learning_updates} learning updates`);

  const commands = await commandsBench(opts);
  console.log(printCommands(commands));

  const e2e = await e2eBench(opts);
  console.log(printE2e(e2e));

  const cpu = await cpuBench(opts);
  console.log(printCpu(cpu));

  const p99s = [...engine.fixed, ...engine.search.filter((r) => r.sustained), commands.with, commands.without].map((r) => r.p99_us)
    .concat([e2e.tcp_at_5k, ...e2e.binary.rows, ...e2e.http.rows].filter((r) => r.sustained || r === e2e.tcp_at_5k).map((r) => r.latency_us.p99));
  const budgetOk = p99s.every((p) => p < BUDGET_US);
  const summary = {
    wasm_vs_ts_mlp_ratio: round(kernel.wasm_vs_ts_mlp_ratio),
    wasm_vs_ts_linear_ratio: round(kernel.wasm_vs_ts_linear_ratio),
    empty_call_ns: round(kernel.empty_call_ns),
    pool_cycles_per_s_batch_256: pool.find((r) => r.batch === 256)?.cycles_per_s,
    engine_max_cycles_per_s: engine.max_cycles_per_s,
    engine_p99_us_at_10k: engine.p99_us_at_10k,
    cycle_p99_us_without_commands: commands.without.p99_us,
    cycle_p99_us_with_commands: commands.with.p99_us,
    commands_p99_ratio: commands.ratio,
    e2e_tcp_p99_us_at_5k: e2e.tcp_at_5k.latency_us.p99,
    e2e_tcp_echo_p99_us_at_5k: e2e.tcp_echo_at_5k.latency_us.p99,
    e2e_binary_max_cycles_per_s: e2e.binary.best,
    e2e_http_max_cycles_per_s: e2e.http.best,
    http_throughput_vs_bare_node: e2e.http_vs_bare,
    ...cpuSummary(cpu),
    budget_us: BUDGET_US,
    budget_ok: budgetOk,
  };
  const results = { machine: m, quick: opts.quick, seconds: round((performance.now() - t0) / 1000), summary, kernel, pool, engine, commands, e2e, cpu };
  const dir = join(packageRoot(), 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  console.log('\nsummary', JSON.stringify(summary, null, 2));
  console.log(`written bench/results/latest.json in ${results.seconds} s`);
  if (!budgetOk) {
    console.error(`bench: a p99 reached the ${BUDGET_US / 1000} ms budget`);
    return 1;
  }
  return 0;
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

main().then((code) => process.exit(code), (e) => {
  console.error(`bench: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
