import type { KernelExports } from '../kernel/host.js';
import type { BatchTask, BatchResult } from './messages.js';

/**
 * One batch on one kernel instance: the candidate's learning updates first,
 * then both models decide every row. Shared by the pool workers and the
 * in-thread executor, so both run exactly the same sequence.
 */
export function runBatch(x: KernelExports, t: BatchTask): BatchResult {
  let updBad = 0, prodBad = 0, candBad = 0;
  if (t.cand !== 0 && t.m > 0) updBad = x.updateBatch(t.cand, t.exps, t.m, t.scratch, t.lr, t.l2, t.iwClip, t.gradClip);
  if (t.prod !== 0) prodBad = x.decideBatch(t.prod, t.feats, t.ctrl, t.n, t.prodOut, t.scratch, t.epsilon, t.temperature, t.mode);
  if (t.cand !== 0) candBad = x.decideBatch(t.cand, t.feats, t.ctrl, t.n, t.candOut, t.scratch, t.epsilon, t.temperature, t.mode);
  return { prodBad, candBad, updBad };
}
