// Commands must not stall cycles: the sidecar in-process (real data directory,
// fsync'd audit and state) at 10,000 cycles/s, first alone, then with 1,000
// mixed commands/s arriving at the same time. The figure is the ratio of the
// two cycle p99s, measured in one run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sidecar } from '../src/sidecar.js';
import { latencyHistogram } from '../src/engine/stats.js';
import type { CycleReply } from '../src/engine/types.js';
import { openLoop, type LoadResult } from './load.js';
import { syntheticTraffic } from './engine.bench.js';
import { table, type BenchOptions } from './common.js';

export interface CommandsBench {
  without: LoadResult;
  with: LoadResult;
  commands: { sent: number; per_s: number; p50_us: number; p99_us: number; by_status: Record<string, number>; mix: Record<string, number> };
  ratio: number;
}

const MIX: Array<[string, number]> = [['HEARTBEAT', 0.6], ['LIST_MODELS', 0.15], ['GET_MODEL', 0.13], ['SET_CANARY_RATIO', 0.1], ['REGISTER_MODEL', 0.02]];

export async function commandsBench(opts: BenchOptions): Promise<CommandsBench> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowpath-bench-'));
  const s = await Sidecar.open({ dataDir: dir, checkpointEverySec: 0 });
  try {
    const OP = 'bench';
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'P1', architecture: 'mlp', hidden: 32 } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'P1' });
    await s.handle({ type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true }).then((r) =>
      s.handle({ type: 'PROMOTE_CANDIDATE', operator_id: OP, force: true, confirmation_token: (r as unknown as { confirmation_token: string }).confirmation_token }));
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: 'C1', architecture: 'mlp', hidden: 32 } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: 'C1' });
    const { states, results } = syntheticTraffic();
    const last: Array<string | undefined> = new Array(256);
    const driver = {
      send: (i: number) => {
        const a = i % 256;
        const req = last[a] === undefined ? { agent_id: `bot-${a}`, state: states[i & 4095] }
          : { agent_id: `bot-${a}`, state: states[i & 4095], intent_taken: last[a], result: results[i & 4095] };
        return s.handle(req).then((r) => { if (r.status === 'OK') last[a] = (r as CycleReply).intent; return r as CycleReply; });
      },
    };
    const secs = opts.quick ? 2 : 8;
    await openLoop(driver, 5000, 0.5);
    const { hist: _a, ...without } = await openLoop(driver, 10_000, secs);

    // Commands at 1,000/s, open loop too, alongside the same cycle load.
    const ch = latencyHistogram();
    const byStatus: Record<string, number> = {};
    const mix: Record<string, number> = {};
    let sent = 0, reg = 0, stop = false;
    const t0 = performance.now();
    const pick = (u: number) => { let acc = 0; for (const [t, p] of MIX) { acc += p; if (u < acc) return t; } return 'HEARTBEAT'; };
    const timer = setInterval(() => {
      if (stop) return;
      const due = Math.floor((performance.now() - t0) * 1.0); // 1 per ms
      for (; sent < due; sent++) {
        const type = pick(((sent * 2654435761) >>> 0) / 2 ** 32);
        mix[type] = (mix[type] ?? 0) + 1;
        const req: Record<string, unknown> = { type, operator_id: OP };
        if (type === 'GET_MODEL') req.version = 'P1';
        if (type === 'SET_CANARY_RATIO') req.ratio = sent % 2 === 0 ? 0.01 : 0.02;
        if (type === 'REGISTER_MODEL') req.metadata = { version: `B-${process.pid}-${reg++}` };
        const intended = t0 + sent;
        void s.handle(req).then((r) => {
          ch.recordValue(Math.max(1, Math.round((performance.now() - intended) * 1000)));
          byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
        });
      }
    }, 1);
    const { hist: _b, ...withCmds } = await openLoop(driver, 10_000, secs);
    stop = true;
    clearInterval(timer);
    await s.audit.drain();
    const elapsed = (performance.now() - t0) / 1000;
    return {
      without, with: withCmds,
      commands: { sent, per_s: Math.round(sent / elapsed), p50_us: ch.getValueAtPercentile(50), p99_us: ch.getValueAtPercentile(99), by_status: byStatus, mix },
      ratio: Math.round((withCmds.p99_us / without.p99_us) * 100) / 100,
    };
  } finally {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function printCommands(b: CommandsBench): string {
  return table('Commands beside cycles (sidecar in-process, fsync\'d audit and state; 10k cycles/s)', [
    { load: 'cycles alone', cycles_per_s: b.without.achieved_per_s, cycle_p50_us: b.without.p50_us, cycle_p99_us: b.without.p99_us, cycle_p999_us: b.without.p999_us, commands_per_s: 0, command_p99_us: '-' as unknown as number },
    { load: '+ mixed commands', cycles_per_s: b.with.achieved_per_s, cycle_p50_us: b.with.p50_us, cycle_p99_us: b.with.p99_us, cycle_p999_us: b.with.p999_us, commands_per_s: b.commands.per_s, command_p99_us: b.commands.p99_us },
  ]) + `\n  p99 with / without commands: ${b.ratio}; command replies by status: ${JSON.stringify(b.commands.by_status)}`;
}
