// The demo's walk of the shadow path, as an operator would do it by hand and
// over the wire like one (every step is a command: the `send` function is a
// real client of the server):
//
//   REGISTER_MODEL → SET_CANDIDATE_MODEL → wait until the candidate has seen
//   min_shadow_cycles in shadow → SET_CANARY_RATIO (the gate wants on-policy
//   evidence: the canary arm against the incumbent arm) → ask
//   PROMOTE_CANDIDATE once a second (step one, no token) until the gate
//   lets it through, printing what evidence is still missing → confirm with
//   the token, printing the evidence it passed on → wait until HEARTBEAT
//   shows the model active in NORMAL mode, and only then say that it serves
//   → wait for the sidecar's post-promotion watch to end (it may roll the
//   model back) → hold the model to the health bars on a window of its own
//   decisions.
//
// It is kept apart from the demo's plumbing (demo.ts) on purpose: the
// promotion gate decides what evidence a promotion needs (shadow, canary),
// and a change of gate should only have to touch this file.

export type Send = (cmd: Record<string, unknown>) => Promise<Record<string, unknown>>;

export interface WalkOptions {
  send: Send;
  /** The first version to walk; a successor (next version number) follows one that fails the health bars. */
  version: string;
  operator: string;
  /** The operator's secret, sent as `auth` on every command but HEARTBEAT (servers with an operators file). */
  auth?: string;
  /** REGISTER_MODEL metadata besides the version. */
  metadata?: Record<string, unknown>;
  /** The canary step: this ratio is set before promotion is asked for (0: no canary step). */
  canaryRatio?: number;
  /**
   * The health bars after a promotion (the walk's own check, after the
   * sidecar's post-promotion watch has ended): once the
   * monitoring window holds only the promoted model's decisions, its served
   * survival must be above and its violation rate below these (the daily
   * checklist's bars), or the walk trains a successor in shadow and promotes
   * that. Without it, the walk ends as soon as the model serves.
   */
  bars?: { survival: number; violations: number };
  /** Versions walked at most (default 3). */
  maxVersions?: number;
  /** Between two PROMOTE_CANDIDATE asks and two HEARTBEAT polls (default 1000 ms). */
  everyMs?: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

export interface WalkResult {
  /** serving: HEARTBEAT showed the model active in NORMAL mode (and it passed the health bars); stopped: the signal came first; failed: a step was refused for good. */
  outcome: 'serving' | 'stopped' | 'failed';
  /** The version walked last (the one serving when outcome is serving). */
  version: string;
  /** PROMOTE_CANDIDATE asks (step one) sent, over all versions. */
  asks: number;
  revision?: number;
  message?: string;
}

type Reply = Record<string, any>;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
    signal.addEventListener('abort', done);
  });
}

/** The gate's verdict in one line: per criterion its estimate and bound against the margin, and what is missing. */
export function evidence(gate: Reply | undefined): string {
  if (!gate || !Array.isArray(gate.criteria)) return '';
  const f = (x: unknown) => (typeof x === 'number' ? (Number.isInteger(x) ? String(x) : x.toFixed(4)) : '-');
  const on = (gate.criteria as Reply[]).filter((c) => c.evidence === 'on_policy')
    .map((c) => `${c.name} ${f(c.estimate)} (bound ${f(c.bound)} vs −${c.margin}, n ${c.samples}): ${c.verdict}`);
  return `on-policy: ${on.join('; ')}${gate.missing ? ` — missing: ${gate.missing}` : ''}`;
}

/** A refusal in one short line: the code and the first reason. */
export function briefly(r: Reply): string {
  const msg = String(r.error?.message ?? r.status).replace(/^promotion gate: /, '');
  const first = msg.split('; ')[0];
  return `${r.error?.code ?? r.status}: ${first.length > 140 ? first.slice(0, 137) + '...' : first}`;
}

/** M-Demo-V1 → M-Demo-V2; a version without a trailing number gets "-2". */
export function nextVersion(v: string): string {
  const m = /^(.*?)(\d+)$/.exec(v);
  return m ? `${m[1]}${Number(m[2]) + 1}` : `${v}-2`;
}

export async function walkShadowPath(o: WalkOptions): Promise<WalkResult> {
  let version = o.version, from: string | undefined;
  let asks = 0;
  const max = o.maxVersions ?? 3;
  for (let n = 1; ; n++) {
    const r = await walkOne(o, version, from, () => ++asks);
    if (r !== 'bars-failed' && r !== 'rolled-back') return { ...r, asks };
    if (n >= max) return { outcome: 'failed', version, asks, message: `${n} version(s) promoted, none passed the health bars` };
    from = version;
    version = nextVersion(version);
    o.log(`training a successor, ${version}, from ${from}'s weights, in shadow while ${r === 'rolled-back' ? 'the policy it was rolled back to' : from} serves`);
  }
}

/** One version along the path; `from`: a successor starts from its predecessor's weights (REGISTER_MODEL init: {from}). */
async function walkOne(o: WalkOptions, version: string, from: string | undefined, ask: () => number): Promise<Omit<WalkResult, 'asks'> | 'bars-failed' | 'rolled-back'> {
  const every = o.everyMs ?? 1000;
  const op = { operator_id: o.operator, ...(o.auth !== undefined ? { auth: o.auth } : {}) };
  const hb = async (): Promise<Reply> => o.send({ type: 'HEARTBEAT' });

  /** Polls HEARTBEAT until the model is active and the mode NORMAL; says why not meanwhile (once per reason); then the health bars. */
  const awaitServing = async (revision?: number): Promise<Omit<WalkResult, 'asks'> | 'bars-failed' | 'rolled-back'> => {
    let said = '';
    while (!o.signal.aborted) {
      const h = await hb();
      const mode = String(h.failure_status?.mode);
      if (h.active_model === version && mode === 'NORMAL') {
        o.log(`${version} (revision ${String(h.active_revision)}) is active and the mode is NORMAL: it now serves`);
        if (!o.bars) return { outcome: 'serving', version, revision: h.active_revision ?? revision };
        const after = await awaitWatch(h);
        return typeof after === 'number' ? checkBars(after, h.active_revision) : after;
      }
      const why = h.active_model !== version
        ? `${version} is not active (active: ${String(h.active_model ?? 'none')})`
        : `${version} is active but the failure mode is ${mode}: ${mode === 'LOCKDOWN' ? 'every cycle is STOP' : 'it does not serve'} until that is resolved`;
      if (why !== said) { o.log(why); said = why; }
      if (h.active_model !== version) return { outcome: 'failed', version, message: why };
      await sleep(every, o.signal);
    }
    return { outcome: 'stopped', version };
  };

  /**
   * The sidecar's post-promotion watch serves a share of agents with the
   * previous policy (the holdback arm) and may roll the promotion back. Until
   * it ends, the served window mixes the two policies, so the health bars
   * would judge the holdback's decisions too: wait for its end and say how it
   * ended. Resolves to the served cycle count at its end, or a walk result
   * (stopped; rolled back: a successor is tried, as for failed bars).
   */
  const awaitWatch = async (h: Reply): Promise<number | Omit<WalkResult, 'asks'> | 'rolled-back'> => {
    if (h.watch) {
      o.log(`the sidecar's post-promotion watch of ${version}: ${String(h.watch.cycles)} cycles with ${(Number(h.watch.holdback_ratio) * 100).toFixed(0)}% of agents held back on ${String(h.watch.previous?.version ?? 'the rules policy')}; the health bars are judged after it ends`);
    }
    while (h.watch) {
      if (o.signal.aborted) return { outcome: 'stopped', version };
      await sleep(every, o.signal);
      h = await hb();
      if (h.active_model !== version) {
        const lf = h.failure_status?.last_failure;
        o.log(`the post-promotion watch rolled ${version} back (${String(lf?.type ?? 'see LIST_INCIDENTS')}: ${String(lf?.detail ?? '')}); active: ${String(h.active_model ?? 'the rules policy')}`);
        return 'rolled-back';
      }
    }
    o.log(`the post-promotion watch of ${version} ended without a rollback`);
    return Number(h.monitoring?.metrics?.cycles ?? 0);
  };

  /**
   * A promotion freezes the candidate's weights at one instant of online
   * learning, and a greedy policy read at one instant can be a poor one (the
   * learning curves of docs/learning.json dip below the rules policy at some
   * checkpoints). So, as an operator would, the walk looks at what the
   * promoted model does once the window holds only its decisions (two
   * windows of cycles after it, all in NORMAL mode as far as the polls
   * see), against the checklist's bars.
   */
  const checkBars = async (fromCycles: number, revision: number): Promise<Omit<WalkResult, 'asks'> | 'bars-failed'> => {
    while (!o.signal.aborted) {
      await sleep(every, o.signal);
      const h = await hb();
      const m = h.monitoring?.metrics ?? {};
      if (h.active_model !== version) return { outcome: 'failed', version, message: `${version} is no longer active (active: ${String(h.active_model ?? 'none')})` };
      // Outside NORMAL the model does not decide (SAFE_MODE: the rules do): its window starts again.
      if (h.failure_status?.mode !== 'NORMAL') { fromCycles = Number(m.cycles); continue; }
      if (Number(m.cycles) - fromCycles < 2 * Number(m.window_cycles ?? 1000) || m.survival_rate === null) continue;
      const sv = Number(m.survival_rate), vr = Number(m.violation_rate);
      const figures = `survival ${sv.toFixed(3)}, violations ${vr.toFixed(4)} over its last ${String(m.outcomes_in_window)} outcomes`;
      if (sv > o.bars!.survival && vr < o.bars!.violations) {
        o.log(`${version} passes the health bars: ${figures}`);
        return { outcome: 'serving', version, revision };
      }
      o.log(`${version} FAILS the health bars: ${figures} (bars: survival > ${o.bars!.survival}, violations < ${o.bars!.violations})`);
      return 'bars-failed';
    }
    return { outcome: 'stopped', version };
  };

  let h = await hb();
  if (h.active_model === version) return awaitServing();

  // 1. Register (a model of that version may exist from an earlier run).
  if (!(h.model_registry ?? []).some((m: Reply) => m.version === version)) {
    const r = await o.send({ type: 'REGISTER_MODEL', ...op, metadata: { ...o.metadata, version }, ...(from ? { init: { from } } : {}) });
    if (r.status !== 'OK') return { outcome: 'failed', version, message: `REGISTER_MODEL ${briefly(r)}` };
  }
  // 2. Candidate: it runs in shadow on every cycle and learns online while the incumbent serves.
  //    No candidate can be set while the sidecar watches a promotion (a holdback arm on the
  //    previous production): wait for the watch to end, as an operator would.
  if (h.watch) {
    o.log(`waiting for the post-promotion watch of ${String(h.watch.promoted?.version)} to end (${String(h.watch.cycles_done)} of ${String(h.watch.cycles)} cycles)`);
    while (h.watch && !o.signal.aborted) { await sleep(every, o.signal); h = await hb(); }
    if (o.signal.aborted) return { outcome: 'stopped', version };
  }
  if (h.candidate_model !== version) {
    const r = await o.send({ type: 'SET_CANDIDATE_MODEL', ...op, version });
    if (r.status !== 'OK') return { outcome: 'failed', version, message: `SET_CANDIDATE_MODEL ${briefly(r)}` };
  }
  o.log(`registered ${version} and set it as candidate: it learns in shadow while ${h.active_model ? h.active_model : 'the rules policy'} serves`);

  // 3. Shadow evidence: wait for min_shadow_cycles before asking.
  for (;;) {
    if (o.signal.aborted) return { outcome: 'stopped', version };
    h = await hb();
    const seen = Number(h.monitoring?.metrics?.evolution?.shadow_sample_size ?? 0);
    const gate = h.online_ml_metrics?.promotion_gate as Reply | null | undefined;
    const need = Number((gate?.criteria as Reply[] | undefined)?.find((c) => c.name === 'shadow_cycles')?.margin ?? 1000);
    if (seen >= need) break;
    await sleep(every, o.signal);
  }

  // 4. The canary (optional): a share of live traffic served by the candidate.
  const canary = o.canaryRatio ?? 0;
  let canaryAborted = false;
  if (canary > 0) {
    const r = await o.send({ type: 'SET_CANARY_RATIO', ...op, ratio: canary });
    o.log(r.status === 'OK' ? `canary: ${version} serves the agents of ${canary * 100}% of the canary draw (the same agents every cycle)` : `canary not set: ${briefly(r)}`);
  }

  // 5. Ask for promotion once a second until the gate lets it through; confirm with the token.
  while (!o.signal.aborted) {
    const asks = ask();
    const first: Reply = await o.send({ type: 'PROMOTE_CANDIDATE', ...op });
    if (first.status === 'REQUIRED_CONFIRMATION') {
      const done: Reply = await o.send({ type: 'PROMOTE_CANDIDATE', ...op, confirmation_token: first.confirmation_token });
      if (done.status === 'OK') {
        const g = first.details?.gate as Reply | undefined;
        o.log(`promoted ${version} (revision ${String(done.revision)}) through the gate on ${String(g?.evidence ?? '?')} evidence after ${asks} ask(s) — ${evidence(g)}`);
        return awaitServing(done.revision);
      }
      o.log(`promotion not confirmed: ${briefly(done)}`);
    } else {
      // Every few asks, the evidence so far (once a second would flood the terminal).
      if (asks % 5 === 1) o.log(`promotion refused: ${briefly(first)}${first.details?.gate ? ` — ${evidence(first.details.gate)}` : ''}`);
      if (first.error?.code === 'E_NO_CANDIDATE') {
        h = await hb();
        return h.active_model === version ? awaitServing() : { outcome: 'failed', version, message: `${version} is no longer the candidate` };
      }
    }
    if (canary > 0 && !canaryAborted) {
      h = await hb();
      if (h.candidate_model === version && Number(h.canary_ratio) === 0) {
        canaryAborted = true;
        o.log(`the canary was aborted (canary ratio back to 0: ${String(h.failure_status?.last_failure?.type ?? 'see LIST_INCIDENTS')}): the canary arm was worse; ${version} is not promoted`);
        return 'bars-failed';
      }
    }
    await sleep(every, o.signal);
  }
  return { outcome: 'stopped', version };
}

/**
 * The sidecar's own post-promotion watch, from HEARTBEAT's `watch` (5,000
 * cycles by default, a holdback arm on the previous policy): with health
 * bars the walk waits for it to end; without them (or stopped early) the
 * demo may stop while it still runs.
 */
export function watchStatus(hb: Reply): string {
  const w = hb.watch as Reply | null | undefined;
  if (!w) return 'post-promotion watch: none running (it ended, or control.watch.cycles or holdback_ratio is 0)';
  const v = w.verdict as Reply | null | undefined;
  return `post-promotion watch of ${String(w.promoted?.version)} (revision ${String(w.promoted?.revision)}) against ${String(w.previous?.version ?? 'the rules policy')}: ` +
    `running, ${String(w.cycles_done)} of ${String(w.cycles)} cycles, ${(Number(w.holdback_ratio) * 100).toFixed(0)}% of agents held back; ` +
    `${v ? `${v.rollback ? 'ROLLING BACK' : 'holding'}: ${String(v.reason)}` : 'no verdict yet'} ` +
    '(it goes on while the sidecar runs: `shadowpath gate` shows it; the demo stopped before it ended)';
}
