// CPU per cycle: a sidecar shares its host with the agent it serves, so the
// CPU time it burns per cycle is its cost (issue 15). The server runs in a
// child process (`shadowpath serve`), and so do the project's bare echo
// servers (bench/echo-server.ts); each is driven by the same open-loop load
// generator in this process, with timer pacing (`--pace timer`, as a user
// would run `shadowpath loadgen`: no busy core on the load side competing
// with the server). CPU is the child's user + system time, all threads
// (main thread, pool workers, libuv), read from /proc/PID/stat just before
// and just after the load; divided by the cycles answered.
//
// Each load is measured on shadowpath and on its echo back to back, so a
// noisy neighbour on this shared machine hits both the same way as far as
// possible; with reps > 1 the pair is repeated and the median ratio's pair
// is reported.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/kernel/host.js';
import { runLoad, type Transport } from '../src/sim/loadgen.js';
import { table, type BenchOptions } from './common.js';
import { start, stop, type Child } from './child.js';


const TICKS_PER_S = 100; // USER_HZ: /proc reports utime and stime in 1/100 s on Linux (getconf CLK_TCK)

/** User + system CPU of a process, all its threads, in µs. */
export function processCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start at ") ".
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
  return ((Number(f[11]) + Number(f[12])) * 1e6) / TICKS_PER_S;
}

export interface CpuRow {
  load: string;
  target: string;
  offered_per_s: number;
  achieved_per_s: number;
  answered: number;
  errors: number;
  cpu_ms: number;
  cpu_us_per_cycle: number;
  p99_us: number;
}

export interface CpuCase {
  key: string;
  transport: Transport;
  rate: number;
  connections: number;
}

/** The four loads of issue 15. The binary load's floor is the TCP JSON echo at the same rate (no binary echo exists). */
export const CPU_CASES: CpuCase[] = [
  { key: 'tcp_5k', transport: 'tcp', rate: 5000, connections: 4 },
  { key: 'tcp_20k', transport: 'tcp', rate: 20_000, connections: 4 },
  { key: 'binary_20k', transport: 'binary', rate: 20_000, connections: 4 },
  { key: 'http_3k', transport: 'http', rate: 3000, connections: 16 },
];

export interface CpuBench {
  seconds: number;
  reps: number;
  rows: CpuRow[];
  /** Per case: ours, the echo's and the ratio (the pair with the median ratio). */
  cases: Record<string, { cpu_us_per_cycle: number; echo_cpu_us_per_cycle: number; ratio: number; ratios: number[] }>;
}

async function measure(load: string, target: string, pid: number, transport: Transport, port: number, rate: number, connections: number, seconds: number): Promise<CpuRow> {
  const before = processCpuUs(pid);
  const { hist: _h, errors_by_code, ...s } = await runLoad({ host: '127.0.0.1', tcpPort: port, httpPort: port, transport, rate, duration: seconds, connections, agents: 512, seed: 3, drainMs: 5000, pace: 'timer', probe: false });
  const cpu = processCpuUs(pid) - before;
  const errors = Object.values(errors_by_code).reduce((a, b) => a + b, 0) + s.unanswered;
  return {
    load, target, offered_per_s: rate, achieved_per_s: s.achieved_per_s, answered: s.answered, errors,
    cpu_ms: Math.round(cpu / 1000), cpu_us_per_cycle: Math.round((cpu / Math.max(1, s.answered)) * 10) / 10, p99_us: s.latency_us.p99,
  };
}

export async function cpuBench(opts: BenchOptions & { reps?: number }): Promise<CpuBench> {
  const seconds = opts.quick ? 2 : 5;
  const reps = opts.reps ?? (opts.quick ? 1 : 2);
  const dir = mkdtempSync(join(tmpdir(), 'shadowpath-cpu-'));
  const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const echo = join(packageRoot(), 'dist', 'bench', 'echo-server.js');
  const server = await start([main, 'serve', '--data-dir', dir, '--tcp-port', '0', '--http-port', '0']);
  const tcpEcho = await start([echo, 'tcp']);
  const httpEcho = await start([echo, 'http']);
  const rows: CpuRow[] = [];
  const cases: CpuBench['cases'] = {};
  try {
    const ours = { tcp: server.info.tcp_port as number, binary: server.info.tcp_port as number, http: server.info.http_port as number };
    const floor = { tcp: tcpEcho.info.port as number, binary: tcpEcho.info.port as number, http: httpEcho.info.port as number };
    const pidOf = (c: Child) => c.proc.pid!;
    for (const c of CPU_CASES) {
      const echoTransport: Transport = c.transport === 'binary' ? 'tcp' : c.transport;
      const echoChild = c.transport === 'http' ? httpEcho : tcpEcho;
      // Warm-up at the measured rate: JIT tiers, connection pools, the first GCs.
      await measure(c.key, 'warm-up', pidOf(server), c.transport, ours[c.transport], c.rate, c.connections, opts.quick ? 1 : 2);
      await measure(c.key, 'warm-up', pidOf(echoChild), echoTransport, floor[c.transport], c.rate, c.connections, opts.quick ? 1 : 2);
      const pairs: Array<{ a: CpuRow; b: CpuRow; ratio: number }> = [];
      for (let r = 0; r < reps; r++) {
        const a = await measure(c.key, `shadowpath ${c.transport}`, pidOf(server), c.transport, ours[c.transport], c.rate, c.connections, seconds);
        const b = await measure(c.key, `bare ${echoTransport} echo`, pidOf(echoChild), echoTransport, floor[c.transport], c.rate, c.connections, seconds);
        rows.push(a, b);
        pairs.push({ a, b, ratio: Math.round((a.cpu_us_per_cycle / Math.max(0.1, b.cpu_us_per_cycle)) * 100) / 100 });
      }
      const sorted = [...pairs].sort((x, y) => x.ratio - y.ratio);
      const med = sorted[Math.floor((sorted.length - 1) / 2)];
      cases[c.key] = { cpu_us_per_cycle: med.a.cpu_us_per_cycle, echo_cpu_us_per_cycle: med.b.cpu_us_per_cycle, ratio: med.ratio, ratios: pairs.map((p) => p.ratio) };
    }
  } finally {
    await Promise.all([stop(server), stop(tcpEcho), stop(httpEcho)]);
    rmSync(dir, { recursive: true, force: true });
  }
  return { seconds, reps, rows, cases };
}

/** The summary keys of bench/results/latest.json. */
export function cpuSummary(b: CpuBench): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.cases)) {
    out[`cpu_us_per_cycle_${k}`] = v.cpu_us_per_cycle;
    out[`echo_cpu_us_per_cycle_${k}`] = v.echo_cpu_us_per_cycle;
    out[`cpu_ratio_vs_echo_${k}`] = v.ratio;
  }
  return out;
}

export function printCpu(b: CpuBench): string {
  return table(`CPU per cycle, server process, all threads (/proc utime+stime; ${b.seconds} s per run, timer-paced open loop, ${b.reps} pair(s) per load)`,
    b.rows.map((r) => ({ ...r })))
    + '\n' + Object.entries(b.cases).map(([k, v]) => `  ${k}: ${v.cpu_us_per_cycle} µs vs echo ${v.echo_cpu_us_per_cycle} µs = ${v.ratio}× (pairs: ${v.ratios.join(', ')})`).join('\n');
}
