// End to end, over loopback: the server in a child process (`shadowpath
// serve`), the load generator in this process. TCP JSON at 5,000 cycles/s;
// the highest sustained rate over binary frames and over HTTP; and, in the
// same run, bare Node servers (a TCP line echo and a node:http JSON echo)
// driven the same way: the floor this machine puts under any server.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/kernel/host.js';
import { runLoad, type LoadSummary, type Transport } from '../src/sim/loadgen.js';
import { table, type BenchOptions } from './common.js';
import { start, stop } from './child.js';


type Row = Omit<LoadSummary, 'errors_by_code'> & { target: string; errors: number; sustained: boolean };

async function load(target: string, transport: Transport, port: number, rate: number, connections: number, seconds: number): Promise<Row> {
  const { hist: _h, errors_by_code, ...s } = await runLoad({ host: '127.0.0.1', tcpPort: port, httpPort: port, transport, rate, duration: seconds, connections, agents: 512, seed: 3, drainMs: 5000, probe: false });
  const errors = Object.values(errors_by_code).reduce((a, b) => a + b, 0) + s.unanswered;
  return { target, ...s, errors, sustained: s.achieved_per_s >= 0.95 * rate && errors === 0 && s.latency_us.p99 < 50_000 };
}

/**
 * Rising rates until one is not sustained. A step that fails is run once
 * more before the search stops: on this shared 2-vCPU machine one stall of a
 * few hundred ms can sink a short run that the server otherwise sustains.
 */
async function highest(target: string, transport: Transport, port: number, from: number, connections: number, seconds: number, quick: boolean): Promise<{ rows: Row[]; best: number }> {
  const rows: Row[] = [];
  let best = 0;
  await load('warm-up', transport, port, from / 2, connections, quick ? 1 : 2); // JIT, connection pools
  for (let rate = from; rate < 2_000_000; rate = Math.round(rate * (quick ? 2 : 1.4))) {
    let r = await load(target, transport, port, rate, connections, seconds);
    if (!r.sustained && !quick) { rows.push(r); r = await load(`${target} (again)`, transport, port, rate, connections, seconds); }
    rows.push(r);
    if (!r.sustained) break;
    best = Math.max(best, r.achieved_per_s);
  }
  return { rows, best };
}

export interface E2eBench {
  tcp_at_5k: Row;
  tcp_echo_at_5k: Row;
  binary: { rows: Row[]; best: number };
  http: { rows: Row[]; best: number };
  bare_http: { rows: Row[]; best: number };
  http_vs_bare: number;
}

export async function e2eBench(opts: BenchOptions): Promise<E2eBench> {
  const secs = opts.quick ? 1 : 5;
  const dir = mkdtempSync(join(tmpdir(), 'shadowpath-e2e-'));
  const main = join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
  const echo = join(packageRoot(), 'dist', 'bench', 'echo-server.js');
  const server = await start([main, 'serve', '--data-dir', dir, '--tcp-port', '0', '--http-port', '0']);
  const tcpEcho = await start([echo, 'tcp']);
  const httpEcho = await start([echo, 'http']);
  try {
    const tcpPort = server.info.tcp_port as number, httpPort = server.info.http_port as number;
    const q = opts.quick;
    // Warm-up at the measured rate: JIT tiers, pools and the first GCs settle.
    await load('warm-up', 'tcp', tcpPort, 5000, 4, q ? 1 : 3);
    await load('warm-up', 'tcp', tcpEcho.info.port as number, 5000, 4, q ? 1 : 3);
    const tcp_at_5k = await load('shadowpath tcp json', 'tcp', tcpPort, 5000, 4, q ? 2 : secs);
    const tcp_echo_at_5k = await load('bare tcp echo', 'tcp', tcpEcho.info.port as number, 5000, 4, q ? 2 : secs);
    const binary = await highest('shadowpath binary', 'binary', tcpPort, 10_000, 8, secs, q);
    const http = await highest('shadowpath http', 'http', httpPort, 2000, 16, secs, q);
    const bare_http = await highest('bare node:http echo', 'http', httpEcho.info.port as number, 2000, 16, secs, q);
    return { tcp_at_5k, tcp_echo_at_5k, binary, http, bare_http, http_vs_bare: Math.round((http.best / Math.max(1, bare_http.best)) * 100) / 100 };
  } finally {
    await Promise.all([stop(server), stop(tcpEcho), stop(httpEcho)]);
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printE2e(b: E2eBench): string {
  const rows = [b.tcp_at_5k, b.tcp_echo_at_5k, ...b.binary.rows, ...b.http.rows, ...b.bare_http.rows].map((r) => ({
    target: r.target, conns: r.connections, offered_per_s: r.offered_per_s, achieved_per_s: r.achieved_per_s, p50_us: r.latency_us.p50,
    p99_us: r.latency_us.p99, p999_us: r.latency_us.p999, errors: r.errors, sustained: r.sustained ? 'yes' : 'no',
  }));
  return table('End to end over loopback (server in a child process, load generator in this one; open loop)', rows)
    + `\n  highest sustained: binary ${b.binary.best}/s, http ${b.http.best}/s, bare node:http ${b.bare_http.best}/s (ours / bare = ${b.http_vs_bare})`;
}
