// The load generator: an open loop at a fixed offered rate over TCP JSON,
// binary frames or HTTP, on N connections, driven by arena agents or by a
// file of recorded cycles. Each latency is taken from the request's intended
// send time, so a server stall counts in full (no coordinated omission).
// Bounded: it stops after `duration` seconds (and waits at most `drainMs`
// for the last replies).
//
// Order per agent: the server answers a cycle whose timestamp is before the
// agent's previous one STOP and goes to TEMPORAL_LOCK (TIME_INTEGRITY_VIOLATION,
// persisted). Stamps are made in send order, but two cycles of one agent in
// flight at once, on two connections (or two pooled HTTP sockets), can reach
// the server in the other order. So an agent's cycles all travel on one
// connection (agent k on connection k % connections), and an agent has at most
// one cycle in flight: a cycle due while its agent awaits a reply waits for it
// (it also needs that reply's intent to report the outcome). The wait counts
// in its latency, which is still taken from its intended send time.
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import type { Histogram } from 'hdr-histogram-js';
import { latencyHistogram } from '../engine/stats.js';
import { TcpClient, HttpClient, type ClientTls } from '../transport/client.js';
import { Arena, type ArenaResult } from './arena.js';
import { SidecarError, errorReply } from '../errors.js';
import { paceOpenLoop } from './pacer.js';

export type Transport = 'tcp' | 'binary' | 'http';

export interface LoadOptions {
  host: string;
  tcpPort: number;
  httpPort: number;
  transport: Transport;
  connections: number;
  rate: number;
  duration: number;
  agents: number;
  seed: number;
  /**
   * Agent ids are `lg-<runId>-<n>`. Default: a fresh random id, so a second
   * run never continues the agent streams of the first (whose state and
   * outcome it does not know). The arena's timestamps follow the wall clock,
   * so even a reused run id never goes back in time for an agent.
   */
  runId?: string;
  /** Arena world: share of episodes with a crowd (default 0.2; the demo uses less, see demo.ts). */
  crowdShare?: number;
  /** Ask the server's HEARTBEAT for its failure mode before and after the run (default true). */
  probe?: boolean;
  /** A file of recorded cycles, one JSON object per line, replayed in order (and again). */
  file?: string;
  drainMs?: number;
  /** How to wait between sends (see the send loop); default spin. */
  pace?: 'spin' | 'timer';
  /** Stops sending early (the demo's Ctrl-C). */
  signal?: AbortSignal;
  /** Share of requests replaced by a malformed cycle (a `state` that is not an object: E_BAD_STATE). */
  badShare?: number;
  /** Speak TLS to a server started with --tls-cert. */
  tls?: ClientTls;
  onSecond?: (s: LoadProgress) => void;
}

export interface LoadProgress {
  t: number; sent: number; ok: number; errors: number; p99_us: number;
  /** Over the last second: cycles answered, p99, and the arena's survival and violation rates. */
  window: { answered: number; p99_us: number; survival: number | null; violations: number | null };
}

export interface LoadSummary {
  transport: Transport;
  connections: number;
  offered_per_s: number;
  achieved_per_s: number;
  sent: number;
  answered: number;
  ok: number;
  errors_by_code: Record<string, number>;
  unanswered: number;
  latency_us: { p50: number; p90: number; p99: number; p999: number; max: number };
  survival_rate: number | null;
  violation_rate: number | null;
  seconds: number;
  /** Malformed requests sent on purpose (badShare). */
  bad_sent: number;
  /** Cycles that waited for their agent's previous reply before being sent (at most one in flight per agent). */
  held_for_agent: number;
  /** The agent ids' prefix (arena source), `lg-<run id>-`; null with --file. */
  agent_prefix: string | null;
  /** OK replies by policy_source. */
  policy_sources: Record<string, number>;
  /** OK replies whose intent is a forced STOP (policy_source LOCKDOWN or DISASTER_FALLBACK), by policy_source, and by fallback_reason. */
  forced_stops: Record<string, number>;
  forced_stops_by_reason: Record<string, number>;
  /** Forced STOPs over OK replies. */
  forced_stop_rate: number;
  /** The server's state from HEARTBEAT before the first and after the last cycle (null: not asked or unreachable). */
  server_start: ServerProbe | null;
  server_end: ServerProbe | null;
}

/** What the load generator reads of a HEARTBEAT: enough to tell a healthy server from a locked one. */
export interface ServerProbe {
  /** failure_status.mode (LOCKDOWN while the latch is on). */
  mode: string;
  incident_count: number;
  last_failure: { type: string; at: string; detail: string } | null;
  active_model: string | null;
}

/**
 * The reasons a run is not a success (empty: it is): unanswered cycles, a
 * failure mode at the end other than NORMAL (or none read), forced STOPs over
 * the threshold. Errors such as E_FLOOD are reported, not judged here.
 */
export function loadVerdict(s: LoadSummary, maxForcedStopRate: number): { ok: boolean; reasons: string[] } {
  const reasons: string[] = [];
  if (s.unanswered > 0) reasons.push(`${s.unanswered} cycle(s) unanswered`);
  if (!s.server_end) reasons.push('the server did not answer HEARTBEAT after the run: its failure mode is unknown');
  else if (s.server_end.mode !== 'NORMAL') {
    const f = s.server_end.last_failure;
    reasons.push(`the server ended in ${s.server_end.mode}${s.server_start?.mode === s.server_end.mode ? ' (it was already at the start)' : ''}` +
      `${f ? `; last failure ${f.type}: ${f.detail}` : ''}`);
  }
  const forced = Object.values(s.forced_stops).reduce((a, b) => a + b, 0);
  if (s.forced_stop_rate > maxForcedStopRate) {
    reasons.push(`${forced} forced STOP(s), ${(s.forced_stop_rate * 100).toFixed(2)}% of OK replies > ${(maxForcedStopRate * 100).toFixed(2)}% ` +
      `(${Object.entries(s.forced_stops_by_reason).map(([r, n]) => `${r} ${n}`).join(', ')})`);
  }
  return { ok: reasons.length === 0, reasons };
}

/** The server's failure mode etc. from one HEARTBEAT, over the run's transport; null when it cannot be asked. */
export async function probeServer(o: Pick<LoadOptions, 'host' | 'tcpPort' | 'httpPort' | 'transport' | 'tls'>): Promise<ServerProbe | null> {
  try {
    let hb: Record<string, any>;
    if (o.transport === 'http') {
      const h = new HttpClient(o.host, o.httpPort, 1, o.tls);
      try { hb = (await h.request('GET', '/v1/heartbeat')).body; } finally { h.close(); }
    } else {
      const t = await TcpClient.connect(o.host, o.tcpPort, 'json', o.tls);
      try { hb = await t.request({ type: 'HEARTBEAT' }); } finally { t.close(); }
    }
    const f = hb.failure_status;
    if (!f || typeof f.mode !== 'string') return null;
    return { mode: f.mode, incident_count: f.incident_count ?? 0, last_failure: f.last_failure ?? null, active_model: hb.active_model ?? null };
  } catch {
    return null;
  }
}

/**
 * Where cycles come from. Agents are numbered 0..agents-1; `agentOf(i)` is
 * the agent of the i-th cycle offered; `next(k, i)` builds it when it is sent
 * (after agent k's previous reply, so the arena's state and stamp are fresh);
 * `reply(k, r)` takes that reply.
 */
interface Source {
  agents: number;
  agentOf(i: number): number;
  next(k: number, i: number): unknown;
  reply(k: number, r: Record<string, unknown>): void;
}

type ArenaSrc = Source & { arena: Arena; alive: number; steps: number; violations: number };

function arenaSource(agents: number, seed: number, prefix: string, crowdShare?: number): ArenaSrc {
  const arena = new Arena({ seed, agents, idPrefix: prefix, crowdShare }); // stamped with the wall clock (the arena's default)
  const last: Array<{ intent: string; result: ArenaResult } | undefined> = new Array(agents);
  const src = {
    arena, agents, alive: 0, steps: 0, violations: 0,
    agentOf: (i: number) => i % agents,
    next(k: number) {
      const a = arena.agents[k], prev = last[k];
      last[k] = undefined;
      return prev ? { agent_id: a.id, state: arena.state(a), intent_taken: prev.intent, result: prev.result } : { agent_id: a.id, state: arena.state(a) };
    },
    reply(k: number, r: Record<string, unknown>) {
      if (r.status !== 'OK' || typeof r.intent !== 'string') return;
      const { result } = arena.step(arena.agents[k], r.intent);
      src.steps++;
      if (result.outcomes.is_alive) src.alive++;
      if (result.safety_flags.violation) src.violations++;
      last[k] = { intent: r.intent, result };
    },
  };
  return src;
}

/** A short random run id: 6 base-36 characters (about 2 billion values). */
export function newRunId(): string {
  return randomBytes(4).readUInt32BE(0).toString(36).padStart(6, '0').slice(-6);
}

/**
 * Recorded cycles, replayed in file order and again from the top. Agent ids
 * are sent as recorded; a numeric `state.timestamp` is moved to now keeping
 * the recorded spacing: each pass over the file is anchored at the wall clock
 * when its first cycle is sent (never before the previous pass's anchor plus
 * the file's time span), a stamp is never ahead of the wall clock (so running
 * the file again later never goes back), a pass whose stamps fall more than
 * FILE_MAX_LAG_S behind it is re-anchored (the server's default
 * engine.stale_after_s is 2 s), and an agent's stamp is never below the one
 * it last sent. Sent as recorded, a file's stamps would be stale after
 * stale_after_s, and would go back at each wrap: TEMPORAL_LOCK.
 */
export const FILE_MAX_LAG_S = 1;

function fileSource(path: string, clock: () => number = () => Date.now() / 1000): Source {
  let lines: Array<Record<string, unknown>>;
  try {
    lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
  } catch (e) {
    throw new SidecarError('E_CONFIG', `cannot read recorded cycles from ${path}: ${(e as Error).message}`);
  }
  if (lines.length === 0) throw new SidecarError('E_CONFIG', `${path} holds no cycles`);
  const ids = new Map<string, number>();
  const agentOfLine = lines.map((l) => {
    const id = typeof l?.agent_id === 'string' ? l.agent_id : 'default'; // the server's id for a cycle without one
    if (!ids.has(id)) ids.set(id, ids.size);
    return ids.get(id)!;
  });
  const stampOf = (l: Record<string, unknown>): number => {
    const st = l?.state as Record<string, unknown> | undefined;
    return st && typeof st === 'object' && typeof st.timestamp === 'number' && Number.isFinite(st.timestamp) ? st.timestamp : NaN;
  };
  const recorded = lines.map(stampOf).filter((t) => !Number.isNaN(t));
  const first = recorded.length ? Math.min(...recorded) : 0;
  const span = recorded.length ? Math.max(...recorded) - first : 0;
  const anchors: number[] = [];
  const anchor = (pass: number): number => {
    while (anchors.length <= pass) {
      const prev = anchors.length ? anchors[anchors.length - 1] + span : -Infinity;
      anchors.push(Math.max(clock(), prev));
    }
    return anchors[pass];
  };
  const lastSent = new Float64Array(ids.size).fill(-Infinity);
  return {
    agents: ids.size,
    agentOf: (i) => agentOfLine[i % lines.length],
    next(k, i) {
      const l = lines[i % lines.length], t = stampOf(l);
      if (Number.isNaN(t)) return l;
      const pass = Math.floor(i / lines.length), rel = t - first, now = clock();
      if (now - (anchor(pass) + rel) > FILE_MAX_LAG_S) anchors[pass] = now - rel;
      const ts = Math.max(lastSent[k], Math.min(now, anchors[pass] + rel));
      lastSent[k] = ts;
      return { ...l, state: { ...(l.state as Record<string, unknown>), timestamp: ts } };
    },
    reply: () => {},
  };
}

export async function runLoad(o: LoadOptions): Promise<LoadSummary & { hist: Histogram }> {
  if (!(o.rate > 0) || !(o.duration > 0) || !(o.connections >= 1)) throw new SidecarError('E_CONFIG', 'rate, duration and connections must be positive');
  if (!o.file && !(Number.isInteger(o.agents) && o.agents >= 1)) throw new SidecarError('E_CONFIG', 'agents must be a positive integer');
  const prefix = o.file ? null : `lg-${o.runId ?? newRunId()}-`;
  const src = o.file ? fileSource(o.file) : arenaSource(o.agents, o.seed, prefix!, o.crowdShare);
  const probe = o.probe !== false;
  const serverStart = probe ? await probeServer(o) : null;
  // Connection c carries the cycles of agents c, c + connections, ... (see the
  // top of the file); over HTTP each connection is a client of one socket.
  const send: Array<(req: unknown) => Promise<Record<string, unknown>>> = [];
  const closers: Array<() => void> = [];
  for (let c = 0; c < o.connections; c++) {
    if (o.transport === 'http') {
      const h = new HttpClient(o.host, o.httpPort, 1, o.tls);
      send.push((req) => h.cycle(req).then((r) => r.body));
      closers.push(() => h.close());
    } else {
      const t = await TcpClient.connect(o.host, o.tcpPort, o.transport === 'binary' ? 'binary' : 'json', o.tls);
      send.push((req) => t.request(req));
      closers.push(() => t.close());
    }
  }
  const hist = latencyHistogram();
  const win = latencyHistogram();
  let winAnswered = 0, winAlive = 0, winSteps = 0, winViol = 0;
  const errors: Record<string, number> = {};
  const sources: Record<string, number> = {}, forced: Record<string, number> = {}, forcedReasons: Record<string, number> = {};
  const total = Math.round(o.rate * o.duration);
  let sent = 0, answered = 0, ok = 0, badSent = 0, held = 0, queued = 0, stopped = false;
  const badEvery = o.badShare && o.badShare > 0 ? Math.round(1 / o.badShare) : 0;
  const start = performance.now();
  let lastReport = start;
  const record = (k: number, intended: number, r: Record<string, unknown>) => {
    const us = Math.max(1, Math.round((performance.now() - intended) * 1000));
    hist.recordValue(us);
    win.recordValue(us);
    winAnswered++;
    answered++;
    if (r.status === 'OK') {
      ok++;
      const ps = String(r.policy_source);
      sources[ps] = (sources[ps] ?? 0) + 1;
      if (r.intent === 'STOP' && (ps === 'LOCKDOWN' || ps === 'DISASTER_FALLBACK')) {
        forced[ps] = (forced[ps] ?? 0) + 1;
        const why = String(r.fallback_reason ?? ps);
        forcedReasons[why] = (forcedReasons[why] ?? 0) + 1;
      }
    } else { const code = (r.error as { code?: string } | undefined)?.code ?? String(r.status); errors[code] = (errors[code] ?? 0) + 1; }
    if (k < 0) return; // a malformed request sent on purpose: no agent's
    const before = 'arena' in src ? [(src as ArenaSrc).steps, (src as ArenaSrc).alive, (src as ArenaSrc).violations] : null;
    src.reply(k, r);
    if (before) {
      const a = src as ArenaSrc;
      winSteps += a.steps - before[0]; winAlive += a.alive - before[1]; winViol += a.violations - before[2];
    }
  };
  // At most one cycle in flight per agent: those due while it awaits a reply
  // wait here, in order, as (i, intended) pairs from waitHead[k] on.
  const waiting: number[][] = Array.from({ length: src.agents }, () => []);
  const waitHead = new Uint32Array(src.agents);
  const busy = new Uint8Array(src.agents);
  const failed = (e: Error): Record<string, unknown> => ({ ...errorReply('E_CONNECTION_LOST', e.message) });
  const dispatch = (k: number, i: number, intended: number): void => {
    busy[k] = 1;
    sent++;
    send[k % send.length](src.next(k, i)).then((r) => settle(k, intended, r), (e: Error) => settle(k, intended, failed(e)));
  };
  const settle = (k: number, intended: number, r: Record<string, unknown>): void => {
    record(k, intended, r);
    busy[k] = 0;
    const q = waiting[k], j = waitHead[k];
    if (j >= q.length || stopped || o.signal?.aborted) return;
    const next = q[j], nextIntended = q[j + 1];
    waitHead[k] = j + 2;
    if (waitHead[k] === q.length) { waitHead[k] = 0; q.length = 0; }
    queued--;
    dispatch(k, next, nextIntended);
  };
  await paceOpenLoop(o.rate, total, (i, intended) => {
    if (badEvery > 0 && i % badEvery === badEvery - 1) {
      badSent++;
      sent++;
      send[i % send.length]({ agent_id: 'bad-input', state: 'not an object' }).then((r) => record(-1, intended, r), (e: Error) => record(-1, intended, failed(e)));
      return;
    }
    const k = src.agentOf(i);
    if (!busy[k]) { dispatch(k, i, intended); return; }
    held++;
    queued++;
    waiting[k].push(i, intended);
  }, {
    pace: o.pace, signal: o.signal,
    onTurn: (now) => {
      if (!o.onSecond || now - lastReport < 1000) return;
      lastReport = now;
      o.onSecond({ t: (now - start) / 1000, sent, ok, errors: answered - ok, p99_us: hist.getValueAtPercentile(99),
        window: { answered: winAnswered, p99_us: win.getValueAtPercentile(99), survival: winSteps ? winAlive / winSteps : null, violations: winSteps ? winViol / winSteps : null } });
      win.reset(); winAnswered = winAlive = winSteps = winViol = 0;
    },
  });
  const drainUntil = performance.now() + (o.drainMs ?? 10_000);
  while ((answered < sent || (queued > 0 && !o.signal?.aborted)) && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 5));
  // Stopped early (Ctrl-C): the cycles still waiting for their agent were never sent.
  if (o.signal?.aborted) queued = 0;
  stopped = true; // past the drain: send nothing more on connections about to close
  const secs = (performance.now() - start) / 1000;
  for (const c of closers) c();
  const serverEnd = probe ? await probeServer(o) : null;
  const arena = 'arena' in src ? (src as ArenaSrc) : null;
  return {
    transport: o.transport, connections: o.connections, offered_per_s: o.rate, achieved_per_s: Math.round(answered / secs), sent, answered, ok,
    errors_by_code: errors, unanswered: sent - answered + queued,
    latency_us: { p50: hist.getValueAtPercentile(50), p90: hist.getValueAtPercentile(90), p99: hist.getValueAtPercentile(99), p999: hist.getValueAtPercentile(99.9), max: hist.maxValue },
    survival_rate: arena && arena.steps > 0 ? arena.alive / arena.steps : null,
    violation_rate: arena && arena.steps > 0 ? arena.violations / arena.steps : null,
    seconds: Math.round(secs * 100) / 100, bad_sent: badSent, held_for_agent: held, agent_prefix: prefix,
    policy_sources: sources, forced_stops: forced, forced_stops_by_reason: forcedReasons,
    forced_stop_rate: ok > 0 ? Object.values(forced).reduce((a, b) => a + b, 0) / ok : 0,
    server_start: serverStart, server_end: serverEnd, hist,
  };
}
