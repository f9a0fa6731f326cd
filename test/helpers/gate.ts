// Asking the promotion gate the way an operator (or a script) does: again and
// again while evidence accumulates.

/**
 * Asks PROMOTE_CANDIDATE (step one, no token) after every `every` more
 * cycles until the gate answers REQUIRED_CONFIRMATION or `max` cycles ran.
 * Returns the last answer and the cycles it took.
 */
export async function askUntilPass(
  ask: () => Promise<Record<string, any>>, more: (n: number) => Promise<unknown>, every = 1000, max = 60_000,
): Promise<{ reply: Record<string, any>; cycles: number; asked: number }> {
  let cycles = 0, asked = 0;
  for (;;) {
    const reply = await ask();
    asked++;
    if (reply.status !== 'REJECTED' || reply.error?.code !== 'E_GATE' || cycles >= max) return { reply, cycles, asked };
    await more(every);
    cycles += every;
  }
}
