// FLOOD in the structured log, summarised so a flood of shed cycles is never
// a flood of lines: one line when shedding starts, then at most one line per
// `everyMs` while it goes on, each with the cycles shed since the line before
// (`shed`) and the server's count so far (`shed_total`). A timer writes the
// last summary `everyMs` after the line before it even when no cycle is shed
// any more (the flood is over), and stop() writes what is left: so the `shed`
// of the lines add up to the server's count and the last `shed_total` is it.
// (Logging only when the next shed cycle came ≥ everyMs later left a flood's
// remainder out of the log, often for good.)
import { FLOOD_EVERY_MS, type EventLog } from '../log.js';

export class FloodLog {
  private loggedAt = -Infinity;
  private unlogged = 0;
  private total = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly log: EventLog,
    private readonly clock: () => number,
    private readonly limitPerS: () => number,
    private readonly everyMs = FLOOD_EVERY_MS,
  ) {}

  /** One cycle was shed; `total` is the server's count of shed cycles, this one included. */
  shed(total: number): void {
    this.total = total;
    this.unlogged++;
    const now = this.clock();
    if (now - this.loggedAt >= this.everyMs) this.write(now);
    else if (!this.timer) {
      const wait = Math.max(0, Math.min(this.everyMs, this.loggedAt + this.everyMs - now));
      this.timer = setTimeout(() => { this.timer = null; if (this.unlogged > 0) this.write(this.clock()); }, wait);
      this.timer.unref(); // a pending summary never keeps a process alive: stop() writes it
    }
  }

  /** Writes the summary still due, if any (the server is stopping). */
  stop(): void {
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.unlogged > 0) this.write(this.clock());
  }

  private write(now: number): void {
    this.log.flood({ shed: this.unlogged, shed_total: this.total, limit_per_s: this.limitPerS(), since_ms: Number.isFinite(this.loggedAt) ? now - this.loggedAt : 0 });
    this.loggedAt = now;
    this.unlogged = 0;
  }
}
