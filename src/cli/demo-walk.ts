// The demo's walk of the shadow path, as an operator would do it by hand and
// over the wire like one (every step is a command: the `send` function is a
// real client of the server):
//
//   REGISTER_MODEL → SET_CANDIDATE_MODEL → wait until the candidate has seen
//   min_shadow_cycles in shadow → [SET_CANARY_RATIO, optional] → ask
//   PROMOTE_CANDIDATE once a second (step one, no token) until the gate
//   lets it through → confirm with the token → wait until HEARTBEAT shows
//   the model active in NORMAL mode, and only then say that it serves.
//
// It is kept apart from the demo's plumbing (demo.ts) on purpose: the
// promotion gate decides what evidence a promotion needs (shadow, canary),
// and a change of gate should only have to touch this file.

export type Send = (cmd: Record<string, unknown>) => Promise<Record<string, unknown>>;

export interface WalkOptions {
  send: Send;
  version: string;
  operator: string;
  /** REGISTER_MODEL metadata besides the version. */
  metadata?: Record<string, unknown>;
  /** The canary step: this ratio is set before promotion is asked for (0: no canary step). */
  canaryRatio?: number;
  /** Between two PROMOTE_CANDIDATE asks and two HEARTBEAT polls (default 1000 ms). */
  everyMs?: number;
  signal: AbortSignal;
  log: (line: string) => void;
}

export interface WalkResult {
  /** serving: HEARTBEAT showed the model active in NORMAL mode; stopped: the signal came first; failed: a step was refused for good. */
  outcome: 'serving' | 'stopped' | 'failed';
  /** PROMOTE_CANDIDATE asks (step one) sent. */
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

/** A refusal in one short line: the code and the first reason. */
export function briefly(r: Reply): string {
  const msg = String(r.error?.message ?? r.status).replace(/^promotion gate: /, '');
  const first = msg.split('; ')[0];
  return `${r.error?.code ?? r.status}: ${first.length > 140 ? first.slice(0, 137) + '...' : first}`;
}

export async function walkShadowPath(o: WalkOptions): Promise<WalkResult> {
  const every = o.everyMs ?? 1000;
  const op = { operator_id: o.operator };
  const hb = async (): Promise<Reply> => o.send({ type: 'HEARTBEAT' });
  let asks = 0;

  /** Polls HEARTBEAT until the model is active and the mode NORMAL; says why not meanwhile (once per reason). */
  const awaitServing = async (revision?: number): Promise<WalkResult> => {
    let said = '';
    while (!o.signal.aborted) {
      const h = await hb();
      const mode = String(h.failure_status?.mode);
      if (h.active_model === o.version && mode === 'NORMAL') {
        o.log(`${o.version} (revision ${String(h.active_revision)}) is active and the mode is NORMAL: it now serves`);
        return { outcome: 'serving', asks, revision: h.active_revision ?? revision };
      }
      const why = h.active_model !== o.version
        ? `${o.version} is not active (active: ${String(h.active_model ?? 'none')})`
        : `${o.version} is active but the failure mode is ${mode}: ${mode === 'LOCKDOWN' ? 'every cycle is STOP' : 'it does not serve'} until that is resolved`;
      if (why !== said) { o.log(why); said = why; }
      if (h.active_model !== o.version) return { outcome: 'failed', asks, message: why };
      await sleep(every, o.signal);
    }
    return { outcome: 'stopped', asks };
  };

  let h = await hb();
  if (h.active_model === o.version) return awaitServing();

  // 1. Register (a model of that version may exist from an earlier run).
  if (!(h.model_registry ?? []).some((m: Reply) => m.version === o.version)) {
    const r = await o.send({ type: 'REGISTER_MODEL', ...op, metadata: { ...o.metadata, version: o.version } });
    if (r.status !== 'OK') return { outcome: 'failed', asks, message: `REGISTER_MODEL ${briefly(r)}` };
  }
  // 2. Candidate: it runs in shadow on every cycle and learns online while the incumbent serves.
  if (h.candidate_model !== o.version) {
    const r = await o.send({ type: 'SET_CANDIDATE_MODEL', ...op, version: o.version });
    if (r.status !== 'OK') return { outcome: 'failed', asks, message: `SET_CANDIDATE_MODEL ${briefly(r)}` };
  }
  o.log(`registered ${o.version} and set it as candidate: it learns in shadow while ${h.active_model ? h.active_model : 'the rules policy'} serves`);

  // 3. Shadow evidence: wait for min_shadow_cycles before asking.
  for (;;) {
    if (o.signal.aborted) return { outcome: 'stopped', asks };
    h = await hb();
    const seen = Number(h.monitoring?.metrics?.evolution?.shadow_sample_size ?? 0);
    const need = Number(h.online_ml_metrics?.promotion_gate?.min_shadow_cycles ?? 1000);
    if (seen >= need) break;
    await sleep(every, o.signal);
  }

  // 4. The canary (optional): a share of live traffic served by the candidate.
  const canary = o.canaryRatio ?? 0;
  let canaryAborted = false;
  if (canary > 0) {
    const r = await o.send({ type: 'SET_CANARY_RATIO', ...op, ratio: canary });
    o.log(r.status === 'OK' ? `canary: ${o.version} serves ${canary * 100}% of cycles` : `canary not set: ${briefly(r)}`);
  }

  // 5. Ask for promotion once a second until the gate lets it through; confirm with the token.
  while (!o.signal.aborted) {
    asks++;
    const ask: Reply = await o.send({ type: 'PROMOTE_CANDIDATE', ...op });
    if (ask.status === 'REQUIRED_CONFIRMATION') {
      const done: Reply = await o.send({ type: 'PROMOTE_CANDIDATE', ...op, confirmation_token: ask.confirmation_token });
      if (done.status === 'OK') {
        o.log(`promoted ${o.version} (revision ${String(done.revision)}) through the gate after ${asks} ask(s)`);
        return awaitServing(done.revision);
      }
      o.log(`promotion not confirmed: ${briefly(done)}`);
    } else {
      o.log(`promotion refused: ${briefly(ask)}`);
      if (ask.error?.code === 'E_NO_CANDIDATE') {
        h = await hb();
        return h.active_model === o.version ? awaitServing() : { outcome: 'failed', asks, message: `${o.version} is no longer the candidate` };
      }
    }
    if (canary > 0 && !canaryAborted) {
      h = await hb();
      if (h.candidate_model === o.version && Number(h.canary_ratio) === 0) {
        canaryAborted = true;
        o.log(`the canary was aborted (canary ratio back to 0: ${String(h.failure_status?.last_failure?.type ?? 'see LIST_INCIDENTS')}); promotion goes on asking`);
      }
    }
    await sleep(every, o.signal);
  }
  return { outcome: 'stopped', asks };
}
