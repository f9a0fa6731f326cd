import { Sidecar, type SidecarOptions } from '../../src/sidecar.js';
import type { CycleReply } from '../../src/engine/types.js';

export async function openSidecar(dataDir: string, extra: Partial<SidecarOptions> = {}): Promise<Sidecar> {
  return Sidecar.open({ dataDir, checkpointEverySec: 0, ...extra, config: { ...extra.config, engine: { pool_threads: 0, ...extra.config?.engine } } });
}

/** Sends a command; for two-step ones, confirms with the token it gets. */
export async function confirmed(s: Sidecar, cmd: Record<string, unknown>, confirmer?: string): Promise<Record<string, unknown>> {
  const first = (await s.handle(cmd)) as Record<string, unknown>;
  if (first.status !== 'REQUIRED_CONFIRMATION') return first;
  return (await s.handle({ ...cmd, ...(confirmer ? { operator_id: confirmer } : {}), confirmation_token: first.confirmation_token })) as Record<string, unknown>;
}

/**
 * Runs `n` cycles of a few agents that close each previous decision with an
 * outcome, so the candidate has shadow samples and off-policy evidence.
 */
export async function drive(s: Sidecar, n: number, agents = 8): Promise<CycleReply[]> {
  const last = new Map<string, string>();
  const out: CycleReply[] = [];
  for (let i = 0; i < n; i += agents) {
    const rs = await Promise.all(Array.from({ length: Math.min(agents, n - i) }, (_, a) => {
      const id = `bot-${a}`;
      const state = { health: ((i + a) % 10) / 10, target_distance: (i * 3 + a * 7) % 40, is_floor_ahead: (i + a) % 9 !== 0 };
      const prev = last.get(id);
      return s.handle(prev ? { agent_id: id, state, intent_taken: prev, result: { outcomes: { is_alive: true, damage_dealt: state.target_distance < 3 ? 1 : 0 } } } : { agent_id: id, state });
    }));
    for (const r of rs) {
      const c = r as CycleReply;
      // Every cycle must be answered OK: callers assert over what this returns.
      if (c.status !== 'OK') throw new Error(`drive: a cycle was not answered OK: ${JSON.stringify(c)}`);
      last.set(c.agent_id, c.intent);
      out.push(c);
    }
  }
  return out;
}
