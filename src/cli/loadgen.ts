// `shadowpath loadgen`: open-loop load against a running server; prints a
// summary table (and, with --json, the JSON result).
import { writeFileSync } from 'node:fs';
import { runLoad, loadVerdict, type Transport } from '../sim/loadgen.js';
import { SidecarError } from '../errors.js';
import { parseArgs } from './args.js';
import { CLIENT_OPTIONS, clientTls } from './client-args.js';

export const LOADGEN_HELP = `usage: shadowpath loadgen [options]

Offers cycles at a fixed rate (open loop) and reports latency percentiles
measured from each cycle's intended send time, errors by code, replies by
policy_source, forced STOPs, and the server's failure mode (HEARTBEAT) before
and after. Stops by itself after --duration seconds (or at Ctrl-C, still reporting). Exit 1, saying why, when
a cycle went unanswered, the server ended in a mode other than NORMAL, or
forced STOPs exceed --max-forced-stop-rate.

Each run drives fresh agents, lg-<run id>-<n> (a random run id unless
--run-id is given); their timestamps follow the wall clock, so running it
again and again never sends a time that goes back for an agent. An agent's
cycles all travel on one connection (agent k on connection k % N), one at a
time: a cycle due while its agent awaits a reply waits for it (held_for_agent
counts them; the wait is in its latency), so the server always sees an agent's
timestamps in the order they were made.

  --transport T       tcp (JSON lines), binary (MessagePack frames) or http (default tcp)
  --rate N            cycles per second offered (default 1000)
  --duration S        seconds (default 10; at most 3600)
  --connections N     connections (default 4)
  --agents N          arena agents driving the cycles (default 256)
  --seed N            arena seed: the world's encounters (default 1)
  --run-id ID         agent ids lg-ID-<n> (default: a fresh random id per run)
  --max-forced-stop-rate R
                      share of OK replies that may be forced STOPs (policy_source LOCKDOWN or
                      DISASTER_FALLBACK) before the run fails (default 0.01)
  --pace P            spin (sub-millisecond send times, a busy core) or timer (1 ms ticks, idle
                      between; latency still counts from the intended time) (default spin)
  --file F            replay recorded cycles (one JSON object per line) instead of the arena,
                      again from the top when the file ends; agent ids are sent as recorded, a
                      numeric state.timestamp is moved to now keeping the recorded spacing (never
                      ahead of the clock, at most 1 s behind it, never back for an agent, also
                      across wraps)
  --json              print the JSON result instead of the table
  --out F             also write the JSON result to F
  --host HOST         server address (default 127.0.0.1)
  --tcp-port N        server TCP port, for --transport tcp and binary (default 5001)
  --http-port N       server HTTP port, for --transport http (default 8080)
  --tls               speak TLS, verifying the server's certificate against the system's CAs
  --tls-ca FILE       speak TLS, verifying the server's certificate against this CA (PEM)`;

export async function loadgenCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, { ...CLIENT_OPTIONS, transport: 'string', rate: 'number', duration: 'number', connections: 'number',
    agents: 'number', seed: 'number', file: 'string', json: 'boolean', out: 'string', pace: 'string', 'run-id': 'string', 'max-forced-stop-rate': 'number' });
  const transport = ((o.transport as string) ?? 'tcp') as Transport;
  if (!['tcp', 'binary', 'http'].includes(transport)) throw new SidecarError('E_CONFIG', '--transport must be tcp, binary or http');
  const duration = (o.duration as number) ?? 10;
  if (duration > 3600) throw new SidecarError('E_CONFIG', '--duration is at most 3600 seconds');
  const maxForced = (o['max-forced-stop-rate'] as number) ?? 0.01;
  if (maxForced < 0 || maxForced > 1) throw new SidecarError('E_CONFIG', '--max-forced-stop-rate must be in [0, 1]');
  const runId = o['run-id'] as string | undefined;
  if (runId !== undefined && !/^[A-Za-z0-9._-]{1,32}$/.test(runId)) throw new SidecarError('E_CONFIG', '--run-id must be 1-32 of [A-Za-z0-9._-]');
  // Ctrl-C stops sending early and still reports (and judges) what was sent.
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  const { hist: _h, ...s } = await runLoad({
    host: (o.host as string) ?? '127.0.0.1', tcpPort: (o['tcp-port'] as number) ?? 5001, httpPort: (o['http-port'] as number) ?? 8080,
    transport, rate: (o.rate as number) ?? 1000, duration, connections: (o.connections as number) ?? 4,
    agents: (o.agents as number) ?? 256, seed: (o.seed as number) ?? 1, file: o.file as string | undefined, runId,
    pace: o.pace === 'timer' ? 'timer' : 'spin', signal: ac.signal, tls: clientTls(o),
    onSecond: o.json ? undefined : (p) => process.stderr.write(`\r${p.t.toFixed(0)}s sent ${p.sent} ok ${p.ok} errors ${p.errors} p99 ${p.p99_us} µs   `),
  });
  process.off('SIGINT', stop);
  const verdict = loadVerdict(s, maxForced);
  const result = { ...s, verdict };
  if (o.out) writeFileSync(o.out as string, JSON.stringify(result, null, 2) + '\n');
  if (o.json) {
    console.log(JSON.stringify(result));
    for (const r of verdict.reasons) console.error(`shadowpath loadgen: FAILED: ${r}`);
    return verdict.ok ? 0 : 1;
  }
  process.stderr.write('\n');
  const mode = (p: typeof s.server_start) => (p ? `${p.mode} (${p.incident_count} incident(s))` : 'unknown (no HEARTBEAT answer)');
  const l = s.latency_us;
  console.log(`transport ${s.transport}, ${s.connections} connection(s), offered ${s.offered_per_s}/s for ${s.seconds}s`);
  console.log(`  achieved   ${s.achieved_per_s}/s (${s.answered} of ${s.sent} answered, ${s.ok} OK${s.held_for_agent ? `; ${s.held_for_agent} waited for their agent's previous reply` : ''})`);
  console.log(`  latency    p50 ${l.p50} µs   p90 ${l.p90} µs   p99 ${l.p99} µs   p99.9 ${l.p999} µs   max ${l.max} µs`);
  console.log(`  errors     ${Object.keys(s.errors_by_code).length ? JSON.stringify(s.errors_by_code) : 'none'}${s.unanswered ? `; ${s.unanswered} unanswered` : ''}`);
  console.log(`  sources    ${Object.entries(s.policy_sources).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`);
  const forced = Object.values(s.forced_stops).reduce((a, b) => a + b, 0);
  console.log(`  forced     ${forced ? `${forced} STOP(s) (${(s.forced_stop_rate * 100).toFixed(2)}%): ${Object.entries(s.forced_stops).map(([k, n]) => `${k} ${n}`).join(', ')}; ` +
    `reasons ${Object.entries(s.forced_stops_by_reason).map(([k, n]) => `${k} ${n}`).join(', ')}` : 'no forced STOP'}`);
  if (s.survival_rate !== null) console.log(`  arena      survival ${s.survival_rate.toFixed(3)}, violations ${s.violation_rate!.toFixed(4)}${s.agent_prefix ? ` (agents ${s.agent_prefix}*)` : ''}`);
  console.log(`  server     mode at start ${mode(s.server_start)}, at end ${mode(s.server_end)}`);
  if (verdict.ok) console.log('  verdict    OK');
  else for (const r of verdict.reasons) console.log(`  verdict    FAILED: ${r}`);
  return verdict.ok ? 0 : 1;
}
