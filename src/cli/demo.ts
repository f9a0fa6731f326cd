// `shadowpath demo`: the engine in-process, a production model and a shadow
// candidate, driven by synthetic agents at a fixed rate, with a live one-line
// status. Stops after --seconds or on Ctrl-C, then prints a summary.
import { Engine } from '../engine/cycle.js';
import { initBody } from '../kernel/model.js';
import { ARCH_MLP, ACT_RELU, type ModelShape } from '../kernel/layout.js';
import type { CycleReply } from '../engine/types.js';
import { parseArgs } from './args.js';

export const DEMO_HELP = `usage: shadowpath demo [--rate N] [--seconds N] [--agents N]

  --rate      cycles per second to offer (default 2000)
  --seconds   stop after this long (default 10; Ctrl-C stops earlier)
  --agents    synthetic agents (default 64)`;

export async function demo(argv: string[]): Promise<number> {
  const o = parseArgs(argv, { rate: 'number', seconds: 'number', agents: 'number' });
  const rate = (o.rate as number) ?? 2000, seconds = (o.seconds as number) ?? 10, agents = (o.agents as number) ?? 64;
  const e = await Engine.create();
  const shape: ModelShape = { arch: ARCH_MLP, d: e.schema.dim, k: e.intents.count, h: 32, activation: ACT_RELU };
  await e.setModel('production', 'M-Demo-V1', { shape, seed: 1, updates: 0, body: initBody(shape, 'random', 1) });
  await e.setModel('candidate', 'M-Demo-V2', { shape, seed: 2, updates: 0, body: initBody(shape, 'random', 2) });
  e.control.canaryRatio = 0.05;
  let stop = false;
  const onSig = () => { stop = true; };
  process.once('SIGINT', onSig);
  const last: Array<string | undefined> = new Array(agents);
  const t0 = performance.now();
  let sent = 0;
  const tty = process.stdout.isTTY;
  const status = setInterval(() => {
    const l = e.stats.latencyUs();
    const line = `${((performance.now() - t0) / 1000).toFixed(1)}s  ${e.stats.cycles} cycles  p50 ${l.p50} µs  p99 ${l.p99} µs  ` +
      `learning updates ${e.stats.learningUpdates}  shadow agreement ${(e.stats.shadowAgree / Math.max(1, e.stats.shadowCalls)).toFixed(2)}  mode ${e.control.mode}`;
    if (tty) process.stdout.write(`\r${line}   `); else console.log(line);
  }, 1000);
  while (!stop && performance.now() - t0 < seconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate);
    for (; sent < due; sent++) {
      const a = sent % agents;
      const s = { health: 0.5 + 0.5 * Math.sin(sent / 97), target_distance: (sent * 7) % 60, is_floor_ahead: sent % 13 !== 0 };
      const req = last[a] === undefined ? { agent_id: `bot-${a}`, state: s }
        : { agent_id: `bot-${a}`, state: s, intent_taken: last[a], result: { outcomes: { is_alive: true, damage_dealt: s.target_distance < 3 ? 0.5 : 0 } } };
      void e.cycle(req).then((r) => { if (r.status === 'OK') last[a] = (r as CycleReply).intent; });
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  clearInterval(status);
  process.off('SIGINT', onSig);
  await e.close();
  const l = e.stats.latencyUs();
  if (tty) process.stdout.write('\n');
  console.log(`done: ${e.stats.cycles} cycles, latency p50 ${l.p50} µs p99 ${l.p99} µs max ${l.max} µs, ${e.stats.learningUpdates} learning updates, ${e.stats.quarantined} quarantined`);
  return 0;
}
