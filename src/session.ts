// Order of effect per connection.
//
// A request takes effect after every earlier request on its connection, on
// every transport: a read after a write sees the write, a cycle after a
// lockdown is STOP. Across connections, a mutation is in effect (in memory)
// before its reply is sent, so whatever arrives after that reply sees it.
//
// Cycles do not pay for this: a cycle waits only when a mutation ahead of it
// on its own connection is still pending. A command (a read or a mutation)
// waits for the requests ahead of it on its connection: the last cycle (the
// engine answers cycles in arrival order, so that is all of them) and the
// last mutation. A read has no effect for later requests to wait for.
import type { Reply } from './sidecar.js';
import { MUTATING } from './control/params.js';

export interface Handles {
  handle(msg: unknown, bearer?: string): Promise<Reply>;
}

export function isMutation(msg: unknown): boolean {
  if (typeof msg !== 'object' || msg === null) return false;
  const t = (msg as { type?: unknown }).type;
  return typeof t === 'string' && MUTATING.has(t);
}

export class Session implements Handles {
  /** The last mutation on this connection, while it is pending. */
  private barrier: Promise<unknown> | null = null;
  /** The last cycle submitted on this connection (cycles are answered in arrival order). */
  private lastCycle: Promise<unknown> | null = null;

  constructor(private readonly s: Handles) {}

  handle(msg: unknown, bearer?: string): Promise<Reply> {
    const s = this.s;
    const barrier = this.barrier;
    if (isCycle(msg)) {
      // A cycle waits only for a mutation ahead of it (the common case: no closure, no extra promise).
      const p = barrier ? barrier.then(() => s.handle(msg, bearer), () => s.handle(msg, bearer)) : s.handle(msg, bearer);
      this.lastCycle = p;
      return p;
    }
    const run = () => s.handle(msg, bearer);
    // A command (read or mutation) waits for what is ahead of it: the last
    // cycle (and so every earlier one) and the last mutation.
    const ahead = this.lastCycle;
    const p = ahead || barrier ? Promise.all([ahead, barrier]).then(run, run) : run();
    if (isMutation(msg)) {
      // Everything ahead is behind this mutation now: later requests wait for it alone.
      this.lastCycle = null;
      this.barrier = p;
      const clear = () => { if (this.barrier === p) this.barrier = null; };
      void p.then(clear, clear);
    }
    return p;
  }
}

function isCycle(msg: unknown): boolean {
  return typeof msg === 'object' && msg !== null && (msg as { type?: unknown }).type === undefined;
}
