// `shadowpath demo` (what `npm start` runs): the sidecar on the default data
// directory and ports, arena agents driving it over TCP, and a live one-line
// status. On a fresh data directory it also walks the runbook's shadow path
// by itself: it registers a model, sets it as candidate, and promotes it with
// the two-step confirmation once the promotion gate passes. Ctrl-C stops the
// agents and the server cleanly.
import { parseArgs } from './args.js';
import { serveArgs, startFromArgs } from './serve.js';
import { runLoad } from '../sim/loadgen.js';
import type { Sidecar } from '../sidecar.js';

export const DEMO_HELP = `usage: shadowpath demo [options]

  --rate N            arena cycles per second (default 2000)
  --seconds N         stop after this long (default 0: until Ctrl-C)
  --agents N          arena agents (default 256)
  --no-promote        do not walk the shadow path automatically
  --data-dir, --host, --tcp-port, --http-port, --config, --operators, --tls-cert, --tls-key,
  --allowed-host, --insecure: as for serve (with TLS the agents trust the server's own
  certificate: a self-signed one)`;

const OP = 'demo';
const VERSION = 'M-Demo-V1';

async function confirm(s: Sidecar, cmd: Record<string, unknown>): Promise<Record<string, unknown>> {
  const a = (await s.handle(cmd)) as Record<string, unknown>;
  if (a.status !== 'REQUIRED_CONFIRMATION') return a;
  return (await s.handle({ ...cmd, confirmation_token: a.confirmation_token })) as Record<string, unknown>;
}

export async function demo(argv: string[]): Promise<number> {
  const own: string[] = [], rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (['--rate', '--seconds', '--agents'].includes(argv[i])) own.push(argv[i], argv[++i]);
    else if (argv[i] === '--no-promote') own.push(argv[i]);
    else rest.push(argv[i]);
  }
  const o = parseArgs(own, { rate: 'number', seconds: 'number', agents: 'number', 'no-promote': 'boolean' });
  const args = serveArgs(rest);
  const server = await startFromArgs(args);
  const s = server.sidecar;
  const ac = new AbortController();
  let stopping = false;
  const stop = () => { if (!stopping) { stopping = true; ac.abort(); } };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const log = (m: string) => process.stderr.write(`${process.stdout.isTTY ? '\n' : ''}${m}\n`);
  log(`shadowpath demo: serving ${s.paths.root} on tcp ${server.host}:${server.tcpPort}, http ${server.host}:${server.httpPort}; Ctrl-C stops`);

  const promote = o['no-promote'] !== true;
  if (promote && !s.registry.has(VERSION)) {
    await s.handle({ type: 'REGISTER_MODEL', operator_id: OP, metadata: { version: VERSION, architecture: 'mlp', hidden: 32 } });
    await s.handle({ type: 'SET_CANDIDATE_MODEL', operator_id: OP, version: VERSION });
    log(`registered ${VERSION} and set it as candidate: it learns in shadow while the rules policy serves`);
  }
  let lastTry = 0;
  const seconds = (o.seconds as number) ?? 0;
  const rate = (o.rate as number) ?? 2000;
  const summary = await runLoad({
    host: server.host, tcpPort: server.tcpPort!, httpPort: server.httpPort ?? 0, transport: 'tcp', connections: 2, rate,
    tls: args.tls ? { ca: args.tls.cert } : undefined,
    duration: seconds > 0 ? seconds : 365 * 86400, agents: (o.agents as number) ?? 256, seed: Date.now() % 100_000, signal: ac.signal,
    onSecond: (p) => {
      const st = s.control.state;
      const w = p.window;
      const line = `${p.t.toFixed(0).padStart(4)}s  ${String(w.answered).padStart(5)} cycles/s  p99 ${String(w.p99_us).padStart(6)} µs  ` +
        `survival ${w.survival?.toFixed(3) ?? '  -  '}  violations ${w.violations?.toFixed(4) ?? '  -   '}  ` +
        `mode ${st.lockdown.active ? 'LOCKDOWN' : st.failure.mode}  active ${st.active?.version ?? 'none (rules)'}` +
        `${st.candidate ? `  candidate ${st.candidate.version} (${s.engine.shadow.samples} shadow cycles)` : ''}`;
      if (process.stdout.isTTY) process.stdout.write(`\r${line}  `); else console.log(line);
      if (promote && st.candidate?.version === VERSION && p.t - lastTry >= 5 && s.engine.shadow.samples >= 1000) {
        lastTry = p.t;
        void confirm(s, { type: 'PROMOTE_CANDIDATE', operator_id: OP }).then((r) => {
          if (r.status === 'OK') log(`promoted ${VERSION} (revision ${String(r.revision)}) through the gate: it now serves`);
          else if ((r.error as { code?: string })?.code !== 'E_GATE' || p.t % 30 < 5) log(`promotion not yet: ${(r.error as { message?: string })?.message ?? r.status}`);
        });
      }
    },
  });
  process.off('SIGINT', stop);
  process.off('SIGTERM', stop);
  if (process.stdout.isTTY) process.stdout.write('\n');
  await server.close();
  const l = summary.latency_us;
  console.log(`demo done: ${summary.answered} cycles in ${summary.seconds}s, latency p50 ${l.p50} µs, p99 ${l.p99} µs; ` +
    `arena survival ${summary.survival_rate?.toFixed(3)}, violations ${summary.violation_rate?.toFixed(4)}; data in ${s.paths.root}`);
  return 0;
}
