// Shared pieces of the bench scenarios: timing, machine description, tables.
import os from 'node:os';

export interface BenchOptions {
  quick: boolean;
}

/** Median of `reps` runs of fn(iters), in ns per iteration. */
export function nsPerOp(fn: (iters: number) => void, iters: number, reps: number): number {
  fn(Math.max(1, Math.floor(iters / 4))); // warm-up: let the JIT / Liftoff→TurboFan tier up
  const xs: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = process.hrtime.bigint();
    fn(iters);
    xs.push(Number(process.hrtime.bigint() - t0) / iters);
  }
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)];
}

export function machine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpu_model: cpus[0]?.model ?? 'unknown',
    memory_gib: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    date: new Date().toISOString(),
  };
}

export function table(title: string, rows: Array<Record<string, string | number>>): string {
  if (rows.length === 0) return '';
  const cols = Object.keys(rows[0]);
  const fmt = (v: string | number) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 3 : 1)) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c]).length)));
  const line = (cells: string[]) => '  ' + cells.map((c, i) => c.padStart(widths[i])).join('  ');
  return [`\n${title}`, line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => fmt(r[c]))))].join('\n');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
