import { afterEach } from 'vitest';
import { Sidecar, type SidecarOptions } from '../../src/sidecar.js';
import { tmpDir } from './tmp.js';
import type { CycleReply, ErrorReply } from '../../src/engine/types.js';

/**
 * Worker threads of the kernel pool in tests that do not say: 0 (the kernel on
 * the calling thread) unless SP_TEST_POOL_THREADS is set, so a whole suite can
 * be rerun over real workers and shared memory, e.g.
 * `SP_TEST_POOL_THREADS=1 npx vitest run test/integration/control.test.ts`.
 */
export const DEFAULT_POOL_THREADS = Number(process.env.SP_TEST_POOL_THREADS ?? 0);

/** A sidecar for a test; 2 s per batch in its worker rather than 25 ms, for the reason given in test/helpers/server.ts (tests of the budget set their own). */
export async function openSidecar(dataDir: string, extra: Partial<SidecarOptions> = {}): Promise<Sidecar> {
  return Sidecar.open({ dataDir, checkpointEverySec: 0, ...extra, config: { ...extra.config, engine: { pool_threads: DEFAULT_POOL_THREADS, batch_timeout_ms: 2000, ...extra.config?.engine } } });
}

/** Sends a command; for two-step ones, confirms with the token it gets. */
export async function confirmed(s: Sidecar, cmd: Record<string, unknown>, confirmer?: string): Promise<Record<string, unknown>> {
  const first = (await s.handle(cmd)) as Record<string, unknown>;
  if (first.status !== 'REQUIRED_CONFIRMATION') return first;
  return (await s.handle({ ...cmd, ...(confirmer ? { operator_id: confirmer } : {}), confirmation_token: first.confirmation_token })) as Record<string, unknown>;
}

/** Thrown by drive() when a cycle was not answered OK: a caller's `.every()` can then never hold over errors. */
export class DriveError extends Error {
  constructor(readonly reply: CycleReply | ErrorReply, readonly index: number) {
    super(`drive(): cycle ${index} was answered ${JSON.stringify(reply).slice(0, 300)}`);
  }
}

/**
 * Runs `n` cycles (n ≥ 1) of a few agents that close each previous decision
 * with an outcome, so the candidate has shadow samples and off-policy
 * evidence. Every cycle must be answered OK: the first reply that is not
 * throws a DriveError. So the result always holds exactly `n` OK replies,
 * and an assertion over it runs over a non-empty set of real decisions.
 */
export async function drive(s: Sidecar, n: number, agents = 8): Promise<CycleReply[]> {
  if (!(n >= 1)) throw new Error(`drive(): n must be at least 1, got ${n}`);
  const last = new Map<string, string>();
  const out: CycleReply[] = [];
  for (let i = 0; i < n; i += agents) {
    const rs = await Promise.all(Array.from({ length: Math.min(agents, n - i) }, (_, a) => {
      const id = `bot-${a}`;
      // Each agent's states vary from round to round (a hash of round and
      // agent), so agents are alike over time: a pattern tied to the agent
      // id (one agent always next to a target, another never) would make the
      // agents differ by themselves, which the gate's evidence rightly
      // discounts (src/engine/arms.ts, clustered bounds).
      const h = Math.imul((i + a) ^ 0x9e3779b9, 2654435761) >>> 0, g = Math.imul(h ^ (h >>> 15), 2246822519) >>> 0;
      const state = { health: (g % 10) / 10, target_distance: (g >>> 8) % 40, is_floor_ahead: (g >>> 16) % 9 !== 0 };
      const prev = last.get(id);
      return s.handle(prev ? { agent_id: id, state, intent_taken: prev, result: { outcomes: { is_alive: true, damage_dealt: state.target_distance < 3 ? 1 : 0 } } } : { agent_id: id, state });
    }));
    for (const r of rs) {
      const c = r as CycleReply | ErrorReply;
      if (c.status !== 'OK') throw new DriveError(c, out.length);
      last.set(c.agent_id, c.intent);
      out.push(c);
    }
  }
  if (out.length !== n) throw new Error(`drive(): ${out.length} replies for ${n} cycles`);
  return out;
}

/**
 * Sidecars and data directories for one test file, closed and removed after
 * each test (in reverse order); `defer` adds any other cleanup (a child
 * process to kill). Call once at the top of a file.
 */
export function sidecarScope(): {
  open: (dataDir: string, config?: SidecarOptions['config']) => Promise<Sidecar>;
  dir: () => string;
  defer: (fn: () => Promise<void> | void) => void;
} {
  let cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => { const cs = cleanups.reverse(); cleanups = []; for (const c of cs) await c(); });
  const defer = (fn: () => Promise<void> | void) => { cleanups.push(fn); };
  return {
    open: async (dataDir, config) => { const s = await openSidecar(dataDir, { config }); defer(() => s.close()); return s; },
    dir: () => { const t = tmpDir(); defer(t.cleanup); return t.dir; },
    defer,
  };
}
