// Open-loop pacing, shared by the load generator and the in-process bench:
// request i is due at start + i / rate whatever became of the earlier ones,
// and the caller measures each latency from that intended time (no
// coordinated omission).

export interface PaceOptions {
  /**
   * 'spin': spin at most 20 µs towards the next due time, then let the event
   * loop run (replies are processed there): sub-millisecond send times, at
   * the price of a busy core. A setImmediate per spin instead would allocate
   * ~250 bytes a turn, a million times a second, and the scavenges would show
   * up in the very latencies being measured. 'timer': wake on a 1 ms timer
   * and send what is due (idle in between; a send can be ~1 ms late, which
   * the latency from the intended time counts). Gaps over 2 ms always sleep.
   */
  pace?: 'spin' | 'timer';
  /** Stops sending early. */
  signal?: AbortSignal;
  /** Called on every turn of the loop with the current time (progress reports). */
  onTurn?: (now: number) => void;
}

/** Calls send(i, intendedMs) for i in [0, total); resolves with the number sent once done (or stopped). */
export function paceOpenLoop(rate: number, total: number, send: (i: number, intended: number) => void, o: PaceOptions = {}): Promise<number> {
  const start = performance.now();
  const interval = 1000 / rate;
  let sent = 0;
  return new Promise<number>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      while (sent < due) { const i = sent++; send(i, start + i * interval); }
      o.onTurn?.(now);
      if (sent >= total || o.signal?.aborted) { resolve(sent); return; }
      const next = start + sent * interval;
      const wait = next - performance.now();
      if (wait > 2 || o.pace === 'timer') { setTimeout(tick, Math.max(0, wait - 1)); return; }
      const until = Math.min(next, performance.now() + 0.02);
      while (performance.now() < until) { /* spin */ }
      setImmediate(tick);
    };
    tick();
  });
}
