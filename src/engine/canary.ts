import { mix32, unit } from '../kernel/reference.js';

/** RNG stream of the canary draw (the kernel's exploration uses streams 0 and 1). */
const CANARY_STREAM = 11;

/**
 * Whether a cycle is routed to the candidate. Deterministic in (seed, cycle
 * id): a replay routes the same way, and over many cycles the share is the
 * ratio.
 */
export function isCanary(seed: number, cycleId: number, ratio: number): boolean {
  if (ratio <= 0) return false;
  if (ratio >= 1) return true;
  return unit(mix32(seed >>> 0, cycleId >>> 0, CANARY_STREAM)) < ratio;
}
