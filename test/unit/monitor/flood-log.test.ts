// FLOOD log lines: summarised, and the summaries add up to every shed cycle,
// including those of a flood's last seconds (with a real timer, at a short
// interval).
import { describe, it, expect } from 'vitest';
import { createLog } from '../../../src/log.js';
import { FloodLog } from '../../../src/monitor/flood-log.js';
import { waitFor } from '../../helpers/wait.js';

type Line = { event: string; shed: number; shed_total: number; limit_per_s: number; since_ms: number };

async function memoryLog() {
  const lines: Line[] = [];
  const log = await createLog({ destination: { write: (s: string) => { for (const l of s.split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Line); } } });
  return { log, lines };
}

describe('FloodLog', () => {
  it('writes one line when shedding starts, a summary at most every interval while it lasts, and the rest after it ends, without stop()', async () => {
    const { log, lines } = await memoryLog();
    const EVERY = 100;
    const f = new FloodLog(log, Date.now, () => 100, EVERY);
    let total = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < 350) { // sheds for 3.5 intervals
      f.shed(++total);
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(total).toBeGreaterThan(20);
    // No more shedding: the pending summary still comes, by the timer.
    await waitFor('the last summary', () => lines.at(-1)?.shed_total === total, 5000);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(lines.length).toBeLessThan(total); // summarised, not a line per cycle
    expect(lines[0]).toMatchObject({ event: 'flood', shed: 1, shed_total: 1, since_ms: 0, limit_per_s: 100 });
    expect(lines.reduce((n, l) => n + l.shed, 0)).toBe(total);
    for (const l of lines.slice(1)) expect(l.since_ms).toBeGreaterThanOrEqual(EVERY - 2); // (a timer's ms rounding)
    f.stop();
    expect(lines.at(-1)!.shed_total).toBe(total); // nothing left: stop() adds no line
    expect(lines.reduce((n, l) => n + l.shed, 0)).toBe(total);
  });

  it('stop() writes the summary still due', async () => {
    const { log, lines } = await memoryLog();
    const f = new FloodLog(log, Date.now, () => 7, 60_000);
    for (let i = 1; i <= 5; i++) f.shed(i);
    expect(lines.map((l) => [l.shed, l.shed_total])).toEqual([[1, 1]]);
    f.stop();
    expect(lines.map((l) => [l.shed, l.shed_total])).toEqual([[1, 1], [4, 5]]);
  });
});
