/**
 * Polls `probe` until it returns a value that is not undefined/false, and
 * resolves with it; rejects after `timeoutMs` naming `what`. For waiting on
 * an effect (a reply, a counter, a file) instead of sleeping a fixed time:
 * the deadline is generous because a loaded 2-vCPU machine can be slow, and
 * it costs nothing when the effect comes early.
 */
export async function waitFor<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 10): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Rejects if `p` has not settled within `ms` (a deadline for one awaited step). */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => { t = setTimeout(() => reject(new Error(`${what} took over ${ms} ms`)), ms); })]).finally(() => clearTimeout(t));
}
