// The end-to-end part of `npm run bench:compare` (bench/compare.ts): one
// build's `shadowpath serve` in a child process, on a fresh data directory,
// driven over TCP JSON at 10,000 cycles/s by this tree's load generator (the
// same driver for both builds, so only the server differs), timer-paced as
// in the CPU bench (no busy core on the load side competing with the
// server). Reports the p50 and p99 latency and the server's CPU per cycle,
// all threads, from /proc (bench/cpu.bench.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from '../src/sim/loadgen.js';
import { start, stop } from './child.js';
import { processCpuUs } from './cpu.bench.js';

export interface E2eFigures {
  e2e_tcp_p50_us_at_10k: number;
  e2e_tcp_p99_us_at_10k: number;
  e2e_cpu_us_per_cycle_at_10k: number;
  e2e_achieved_per_s_at_10k: number;
  /** Error replies and unanswered cycles of the measured run (0 expected; a round with errors is not comparable). */
  e2e_errors_at_10k: number;
}

export const E2E_RATE = 10_000;

/** One round on `root`'s build (its dist/src/cli/main.js): a warm-up run, then the measured one. */
export async function e2eRound(root: string, seconds: number, warmSeconds: number, rate = E2E_RATE): Promise<E2eFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowpath-compare-e2e-'));
  const server = await start([join(root, 'dist', 'src', 'cli', 'main.js'), 'serve', '--data-dir', dir, '--tcp-port', '0', '--http-port', '0'], root);
  try {
    const port = server.info.tcp_port as number;
    const pid = server.proc.pid!;
    const run = (duration: number) => runLoad({ host: '127.0.0.1', tcpPort: port, httpPort: port, transport: 'tcp', rate, duration, connections: 4, agents: 512, seed: 3, drainMs: 5000, pace: 'timer', probe: false });
    await run(warmSeconds); // JIT tiers, connection set-up, the first GCs
    const before = processCpuUs(pid);
    const s = await run(seconds);
    const cpu = processCpuUs(pid) - before;
    return {
      e2e_tcp_p50_us_at_10k: s.latency_us.p50,
      e2e_tcp_p99_us_at_10k: s.latency_us.p99,
      e2e_cpu_us_per_cycle_at_10k: Math.round((cpu / Math.max(1, s.answered)) * 10) / 10,
      e2e_achieved_per_s_at_10k: s.achieved_per_s,
      e2e_errors_at_10k: Object.values(s.errors_by_code).reduce((a, b) => a + b, 0) + s.unanswered,
    };
  } finally {
    await stop(server);
    rmSync(dir, { recursive: true, force: true });
  }
}
