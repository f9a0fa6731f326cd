// `shadowpath demo` (what `npm start` runs): the full server (TCP and HTTP)
// on the data directory, arena agents driving it over TCP as real clients,
// and a live one-line status. Unless --no-promote, it walks the runbook's
// shadow path by itself, over TCP like an operator (demo-walk.ts). It says
// plainly when a failure mode is on, with the incident and the one command
// that resets it, and ends with the health checklist: exit 0 only when the
// run ends healthy (mode NORMAL, the promoted model active, no FAIL).
// Ctrl-C stops the agents and the server cleanly.
import { join } from 'node:path';
import { parseArgs } from './args.js';
import { serveArgs, startFromArgs } from './serve.js';
import { walkShadowPath, watchStatus, type WalkResult } from './demo-walk.js';
import { runLoad } from '../sim/loadgen.js';
import { TcpClient } from '../transport/client.js';
import { healthChecks, formatHealth } from '../monitor/health.js';
import type { Sidecar } from '../sidecar.js';

export const DEMO_HELP = `usage: shadowpath demo [options]

Starts the full server on the data directory (as \`shadowpath serve\`: TCP and
HTTP on loopback) and drives it over TCP with arena agents, printing one status
line a second. Unless --no-promote, it walks the shadow path over TCP like an
operator: registers M-Demo-V1, sets it as candidate (it learns in shadow while
the rules policy serves), waits for the gate's minimum of shadow cycles, asks
PROMOTE_CANDIDATE once a second until the gate passes, and confirms. Then it
waits for the sidecar's post-promotion watch (HEARTBEAT \`watch\`: a share of
agents held back on the previous policy; it may roll the model back) to end,
and holds the promoted model to the health bars on a window of its own
decisions: when its served survival is not above 0.9 or its violation rate
not below 0.01 (the daily checklist's bars), or the watch rolled it back, it
trains a successor (M-Demo-V2, from V1's weights) in shadow and promotes
that. At the end it prints the watch's state (HEARTBEAT \`watch\`).
Unless --config sets them, the demo uses learning.lr 0.02 and
control.gate.min_shadow_cycles 20000 (see README, "Quick start"). A failure mode is reported with its incident and the
command that resets it. At the end it prints the health checklist; exit 0 when
the run ends healthy (mode NORMAL, the walked model serving unless
--no-promote, no check FAILs), 1 otherwise. While it runs, other terminals can use the CLI
against it (shadowpath heartbeat, health, cmd ...).

  --rate N            arena cycles per second (default 2000)
  --seconds N         stop after this long (default 0: until Ctrl-C)
  --agents N          arena agents (default 256)
  --no-promote        do not walk the shadow path
  --canary-ratio R    the canary's share of agents before promotion is asked for (default 0.1;
                      the gate needs the canary's on-policy evidence)
  --until-serving     stop as soon as the walked model serves and passes the health bars
                      (--seconds, when given, still caps the run)
  --data-dir DIR      data directory (default ./data)
  --host, --tcp-port, --http-port, --config, --operators, --tls-cert, --tls-key, --allowed-host,
  --insecure: as for serve (ports default 5001 and 8080; 0 picks one; with TLS the agents
  trust the server's own certificate: a self-signed one)

The walk's commands name the operator $SHADOWPATH_OPERATOR (default "demo");
with --operators, that must be an admin (it promotes) whose secret is in
$SHADOWPATH_SECRET.`;

/** The walk's operator: $SHADOWPATH_OPERATOR (default "demo") with $SHADOWPATH_SECRET, as for `shadowpath cmd`. */
const OP = process.env.SHADOWPATH_OPERATOR ?? 'demo';
const VERSION = 'M-Demo-V1';
const CANARY_RATIO = 0.1;

/**
 * The demo's world: 10% of encounters in a crowd instead of the arena's 20%.
 * In a crowd, MOVE is a safety violation no default rule forbids, and the
 * rules policy (which serves until the promotion) pushes on. With 20%, its
 * violation rate was 0.061 on average and its 1000-cycle window peaked at
 * 0.082-0.098 within 40,000 cycles (10 seeds, measured in-process): close
 * enough to the CONTRACT_BREACH threshold (0.1) that 2 demo runs in 14 went
 * to SAFE_MODE by chance (issue 12). With 10%: 0.030 on average, peaks 0.044-0.058.
 * The thresholds stay the defaults; the world is what the demo chooses.
 */
export const DEMO_CROWD_SHARE = 0.1;

/**
 * How the demo learns and promotes, unless --config says otherwise:
 * learning.lr 0.02 (default 0.05) and control.gate.min_shadow_cycles 20,000
 * (default 1,000; 10 s at 2,000 cycles/s). Today's gate asks that the
 * candidate be not credibly worse than the incumbent, and a promotion freezes
 * the weights of one instant of online learning, whose greedy policy
 * oscillates. Measured in-process on the demo world (the candidate's weights
 * frozen at a checkpoint, then serving 4,000 cycles; 12 arena seeds): after
 * 1,000-10,000 shadow cycles at lr 0.05 the frozen model survived as little
 * as 0.80-0.85 (the rules policy: 0.87; the checklist's bar: 0.9); at lr 0.05
 * 4 of 160 checkpoints between 20,000 and 26,000 cycles (40 seeds) were below
 * 0.9, at lr 0.02 1 of 160. The walk's health bars (demo-walk.ts) catch that one:
 * a promoted model below the bar is followed by a successor.
 */
export const DEMO_LEARNING_RATE = 0.02;
export const DEMO_MIN_SHADOW_CYCLES = 20_000;
/**
 * The agents send on a 1 ms timer and idle in between, instead of the load
 * generator's default spin (sub-millisecond send times for a benchmark, at
 * the price of a busy core). The demo's agents share a process, and on a
 * small machine the cores, with the server they drive.
 */
const PACE = 'timer';
// Measured, 12 s at 2,000 cycles/s without promotion: 7.3 s of user CPU with spin, 1.5 s with the timer.

/** The daily checklist's bars, which the walk holds a promoted model to once the sidecar's post-promotion watch has ended (its own check). */
const BARS = { survival: 0.9, violations: 0.01 };

/** The command that takes the sidecar out of its current failure mode, for a user to copy. */
export function resetCommand(st: Sidecar['control']['state'], portFlags: string): string {
  if (st.lockdown.active) return `shadowpath cmd UNRELEASE_LOCKDOWN --operator ${OP} --yes ${portFlags}`;
  return `shadowpath cmd RESET_FAILURE_STATUS --operator ${OP} --yes ${portFlags}`;
}

function timeoutSafeMode(s: Sidecar): boolean {
  const st = s.control.state;
  return st.failure.mode === 'SAFE_MODE' && st.failure.last_failure?.type === 'INFERENCE_TIMEOUT' && !st.lockdown.active;
}

export async function demo(argv: string[]): Promise<number> {
  const own: string[] = [], rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (['--rate', '--seconds', '--agents'].includes(argv[i])) own.push(argv[i], argv[++i]);
    else if (['--no-promote', '--until-serving'].includes(argv[i])) own.push(argv[i]);
    else if (argv[i] === '--canary-ratio') own.push(argv[i], argv[++i]);
    else rest.push(argv[i]);
  }
  const o = parseArgs(own, { rate: 'number', seconds: 'number', agents: 'number', 'no-promote': 'boolean', 'canary-ratio': 'number', 'until-serving': 'boolean' });
  const sa = serveArgs(rest);
  const gate = sa.config?.control?.gate, learning = sa.config?.engine?.learning;
  if (gate?.min_shadow_cycles === undefined) {
    sa.config = { ...sa.config, control: { ...sa.config?.control, gate: { ...gate, min_shadow_cycles: DEMO_MIN_SHADOW_CYCLES } } };
  }
  if (learning?.lr === undefined) sa.config = { ...sa.config, engine: { ...sa.config?.engine, learning: { ...learning, lr: DEMO_LEARNING_RATE } } };
  const server = await startFromArgs(sa);
  const s = server.sidecar;
  const portFlags = `--tcp-port ${server.tcpPort}`;
  const ac = new AbortController();
  /** --until-serving: the walked model serves and passed the health bars. */
  const served = new AbortController();
  let stopping = false;
  const stop = () => { if (!stopping) { stopping = true; ac.abort(); } };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const log = (m: string) => process.stderr.write(`${process.stdout.isTTY ? '\n' : ''}${m}\n`);
  log(`shadowpath demo: serving ${s.paths.root} on tcp ${server.host}:${server.tcpPort}, http ${server.host}:${server.httpPort}; Ctrl-C stops`);

  // Failure modes and incidents, said plainly as they happen (and at start:
  // the mode is persisted, so a data directory can start in one).
  let lastMode = 'NORMAL';
  const seenIncidents = new Set<string>();
  const watchFailures = () => {
    const st = s.control.state;
    const mode = st.lockdown.active ? 'LOCKDOWN' : st.failure.mode;
    for (const inc of s.failures.written) {
      if (seenIncidents.has(inc.incident_id)) continue;
      seenIncidents.add(inc.incident_id);
      const detail = (inc.details as { detail?: string }).detail;
      log(`incident ${inc.type} (${inc.severity}): ${detail ?? ''}; report ${join(s.paths.failures, `incident_${inc.incident_id}.json`)}`);
    }
    if (mode === lastMode) return;
    lastMode = mode;
    if (mode === 'NORMAL') { log('failure mode back to NORMAL'); return; }
    const lf = st.failure.last_failure;
    const cause = st.lockdown.active ? `lockdown by ${st.lockdown.operator_id ?? '?'}: ${st.lockdown.reason ?? ''}` : lf ? `${lf.type}: ${lf.detail}` : 'see shadowpath heartbeat';
    const effect = mode === 'LOCKDOWN' || mode === 'TEMPORAL_LOCK' ? 'every cycle is answered STOP' : mode === 'SAFE_MODE' ? 'the rules policy decides' : 'learning is paused';
    const byItself = mode === 'SAFE_MODE' && lf?.type === 'INFERENCE_TIMEOUT';
    log(`FAILURE MODE ${mode} (${cause}): ${effect}. ${byItself ? 'It returns to NORMAL by itself after failures.safe_mode_cycles cycles.'
      : `Investigate (README, "Making an incident, and investigating it"), then reset with:\n  ${resetCommand(st, portFlags)}`}`);
  };
  watchFailures();

  const promote = o['no-promote'] !== true;
  // A data directory where an earlier demo promoted a successor (M-Demo-V2, ...) goes on from it.
  const first = s.control.state.active?.version.startsWith('M-Demo-') ? s.control.state.active.version : VERSION;
  let walk: Promise<WalkResult> | null = null;
  let walker: TcpClient | null = null;
  if (promote) {
    walker = await TcpClient.connect(server.host, server.tcpPort!);
    const send = walker.request.bind(walker);
    walk = walkShadowPath({
      send, version: first, operator: OP, auth: process.env.SHADOWPATH_SECRET, metadata: { architecture: 'mlp', hidden: 32 }, bars: BARS,
      canaryRatio: (o['canary-ratio'] as number | undefined) ?? CANARY_RATIO, signal: ac.signal, log,
    }).catch((e: Error) => ({ outcome: 'failed' as const, version: first, asks: 0, message: e.message }));
    if (o['until-serving'] === true) void walk.then((r) => { if (r.outcome === 'serving') served.abort(); });
  }
  const seconds = (o.seconds as number) ?? 0;
  const rate = (o.rate as number) ?? 2000;
  const summary = await runLoad({
    host: server.host, tcpPort: server.tcpPort!, httpPort: server.httpPort ?? 0, transport: 'tcp', connections: 2, rate,
    tls: sa.tls ? { ca: sa.tls.cert } : undefined,
    duration: seconds > 0 ? seconds : 365 * 86400, agents: (o.agents as number) ?? 256, seed: Date.now() % 100_000,
    signal: AbortSignal.any([ac.signal, served.signal]), crowdShare: DEMO_CROWD_SHARE, probe: false, pace: PACE,
    onSecond: (p) => {
      watchFailures();
      const st = s.control.state;
      const w = p.window;
      const line = `${p.t.toFixed(0).padStart(4)}s  ${String(w.answered).padStart(5)} cycles/s  p99 ${String(w.p99_us).padStart(6)} µs  ` +
        `survival ${w.survival?.toFixed(3) ?? '  -  '}  violations ${w.violations?.toFixed(4) ?? '  -   '}  ` +
        `mode ${lastMode}  active ${st.active?.version ?? 'none (rules)'}` +
        `${st.candidate ? `  candidate ${st.candidate.version} (${s.engine.shadow.samples} shadow cycles${st.canary_ratio > 0 ? `, canary ${st.canary_ratio}` : ''})` : ''}`;
      if (process.stdout.isTTY) process.stdout.write(`\r${line}  `); else console.log(line);
    },
  });
  // A timeout's SAFE_MODE ends by itself after failures.safe_mode_cycles
  // cycles, and a slow or busy machine can time a batch out at any moment,
  // the last second included. Run on (fresh agents, at most 10 s) until it
  // has ended rather than stop in a mode that only more cycles would end.
  for (let extra = 0; extra < 10 && !ac.signal.aborted && timeoutSafeMode(s); extra++) {
    if (extra === 0) log('SAFE_MODE after an inference timeout at the end: running on until it returns to NORMAL by itself');
    await runLoad({ host: server.host, tcpPort: server.tcpPort!, httpPort: server.httpPort ?? 0, transport: 'tcp', connections: 2, rate, duration: 1,
      agents: (o.agents as number) ?? 256, seed: Date.now() % 100_000, signal: ac.signal, crowdShare: DEMO_CROWD_SHARE, probe: false, pace: PACE });
  }
  stop();
  const walked = walk ? await walk : null;
  walker?.close();
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (process.stdout.isTTY) process.stdout.write('\n');
  watchFailures();

  // The verdict, from the same HEARTBEAT and checklist a user would ask for.
  const hb = s.heartbeat() as Record<string, any>;
  const expected = walked?.version ?? first;
  const health = healthChecks(hb, promote ? expected : undefined);
  const mode = String(hb.failure_status.mode);
  const reasons: string[] = [];
  if (mode !== 'NORMAL') reasons.push(`the failure mode is ${mode}; reset with: ${resetCommand(s.control.state, '--tcp-port N')} (against a running server)`);
  if (promote && walked?.outcome !== 'serving') {
    reasons.push(walked?.outcome === 'failed' ? `${expected}: ${walked.message ?? 'the walk failed'}`
      : `the demo stopped before ${expected} was promoted and had passed the health bars (active: ${String(hb.active_model ?? 'none')}); run it longer`);
  }
  for (const c of health.checks) if (c.verdict === 'FAIL') reasons.push(`health check FAILED: ${c.name}: ${c.figure}`);
  await server.close();
  const l = summary.latency_us;
  console.log(`demo done: ${summary.answered} cycles in ${summary.seconds}s, latency p50 ${l.p50} µs, p99 ${l.p99} µs; ` +
    `arena survival ${summary.survival_rate?.toFixed(3)}, violations ${summary.violation_rate?.toFixed(4)}; data in ${s.paths.root}`);
  console.log(formatHealth(health));
  if (promote) console.log(watchStatus(hb));
  if (reasons.length === 0) {
    console.log(`healthy: mode NORMAL, ${hb.active_model ? `${String(hb.active_model)} (revision ${String(hb.active_revision)}) serves` : 'the rules policy serves'}`);
    return 0;
  }
  console.log(`NOT healthy: ${reasons.join('; ')}`);
  return 1;
}
