// What the engine keeps per agent and per cycle between a cycle's arrival and
// its reply, and the small pools and helpers around them.
import type { BatchTask } from '../pool/messages.js';
import type { LoggedDecision } from './experience.js';
import type { AgentTallies } from './arms.js';
import type { SafetyVerdict } from './safety.js';
import type { CycleReply, ErrorReply, FailureEvent } from './types.js';
import { errorReply, type ErrorCode } from '../errors.js';

export interface AgentStream {
  prev: LoggedDecision | undefined;
  lastTs: number;
  /** Epoch of the batch being formed that already holds a cycle of this agent. */
  batchEpoch: number;
  /** Cycle id when last moved to the back of the eviction order. */
  touched: number;
  /** The agent's position in the arm draw (arms.ts), cached for the salt it was drawn under. */
  unit: number;
  unitSalt: number;
  /** Arms this agent was counted in (a bit per arm), under the arms epoch `armEpoch`. */
  armMask: number;
  armEpoch: number;
  /** Its outcomes in one arm under the current arms (arms.ts, clustered bounds), kept here to spare a lookup per outcome. */
  tallies: AgentTallies | null;
}

export interface Pending {
  agentId: string;
  stream: AgentStream;
  cycleId: number;
  t0: number;
  /** The rules policy's proposal (needed after inference; the parsed values are not kept). */
  rulesIntent: number;
  features: Float32Array;
  verdict: SafetyVerdict;
  forcedReason: string | null;
  intentTaken: unknown;
  result: unknown;
  fault: BatchTask['fault'];
  resolve: (r: CycleReply | ErrorReply) => void;
  /** The request as received (for an incident's snapshot). */
  raw: Record<string, unknown>;
  clockMs: number;
  lastTsBefore: number;
  prevAtDispatch: LoggedDecision | undefined;
  /** Failures this cycle raised, reported with its capture once it is answered. */
  failures: Array<Omit<FailureEvent, 'capture'>> | null;
}

/**
 * Fixed-size feature vectors, reused. A vector is taken when a cycle arrives
 * and given back when the decision it belongs to is superseded by the
 * agent's next one (or its stream is evicted). A typed array per cycle would
 * be an ArrayBuffer per cycle for the GC to track; that was 34% of the CPU
 * at 90k cycles/s.
 */
export class VectorPool {
  private readonly free: Float32Array[] = [];
  constructor(private readonly size: number) {}
  acquire(): Float32Array {
    const v = this.free.pop();
    if (v) { v.fill(0); return v; }
    return new Float32Array(this.size);
  }
  release(v: Float32Array): void {
    if (this.free.length < 65_536) this.free.push(v);
  }
}

/**
 * Agent streams by id. Eviction is least-recently-seen, approximately: a
 * stream moves to the back of the Map (Map order is insertion order) only
 * when it has not been touched for half the capacity's worth of cycles, so
 * the common case is a single lookup.
 */
export class AgentStreams {
  private readonly map = new Map<string, AgentStream>();
  constructor(private readonly capacity: number, private readonly vectors: VectorPool) {}

  get(agentId: string, now: number): AgentStream {
    let s = this.map.get(agentId);
    if (s) {
      if (now - s.touched > this.capacity / 2) {
        this.map.delete(agentId);
        this.map.set(agentId, s);
        s.touched = now;
      }
      return s;
    }
    s = { prev: undefined, lastTs: -Infinity, batchEpoch: -1, touched: now, unit: 0, unitSalt: NaN, armMask: 0, armEpoch: -1, tallies: null };
    if (this.map.size >= this.capacity) {
      const oldest = this.map.keys().next().value as string;
      const gone = this.map.get(oldest)!;
      if (gone.prev) this.vectors.release(gone.prev.features);
      this.map.delete(oldest);
    }
    this.map.set(agentId, s);
    return s;
  }
}

export function attach(p: Pending, type: FailureEvent['type'], detail: string): void {
  (p.failures ??= []).push({ type, detail, agent_id: p.agentId, cycle_id: p.cycleId });
}

export function err(code: ErrorCode, message: string): ErrorReply {
  return errorReply(code, message);
}
