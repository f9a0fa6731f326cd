// `shadowpath loadgen`: open-loop load against a running server; prints a
// summary table (and, with --json, the JSON result).
import { writeFileSync } from 'node:fs';
import { runLoad, type Transport } from '../sim/loadgen.js';
import { SidecarError } from '../errors.js';
import { parseArgs } from './args.js';
import { CLIENT_OPTIONS, CLIENT_HELP, clientTls } from './client-args.js';

export const LOADGEN_HELP = `usage: shadowpath loadgen [options]

Offers cycles at a fixed rate (open loop) and reports latency percentiles
measured from each cycle's intended send time, and errors by code. Stops by
itself after --duration seconds.

  --transport T       tcp (JSON lines), binary (MessagePack frames) or http (default tcp)
  --rate N            cycles per second offered (default 1000)
  --duration S        seconds (default 10; at most 3600)
  --connections N     connections (default 4)
  --agents N          arena agents driving the cycles (default 256)
  --seed N            arena seed (default 1)
  --pace P            spin (sub-millisecond send times, a busy core) or timer (1 ms ticks, idle
                      between; latency still counts from the intended time) (default spin)
  --file F            replay recorded cycles (one JSON object per line) instead of the arena
  --json              print the JSON result instead of the table
  --out F             also write the JSON result to F
${CLIENT_HELP}`;

export async function loadgenCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, { ...CLIENT_OPTIONS, transport: 'string', rate: 'number', duration: 'number', connections: 'number',
    agents: 'number', seed: 'number', file: 'string', json: 'boolean', out: 'string', pace: 'string' });
  const transport = ((o.transport as string) ?? 'tcp') as Transport;
  if (!['tcp', 'binary', 'http'].includes(transport)) throw new SidecarError('E_CONFIG', '--transport must be tcp, binary or http');
  const duration = (o.duration as number) ?? 10;
  if (duration > 3600) throw new SidecarError('E_CONFIG', '--duration is at most 3600 seconds');
  const { hist: _h, ...s } = await runLoad({
    host: (o.host as string) ?? '127.0.0.1', tcpPort: (o['tcp-port'] as number) ?? 5001, httpPort: (o['http-port'] as number) ?? 8080,
    transport, rate: (o.rate as number) ?? 1000, duration, connections: (o.connections as number) ?? 4,
    agents: (o.agents as number) ?? 256, seed: (o.seed as number) ?? 1, file: o.file as string | undefined,
    pace: o.pace === 'timer' ? 'timer' : 'spin', tls: clientTls(o),
    onSecond: o.json ? undefined : (p) => process.stderr.write(`\r${p.t.toFixed(0)}s sent ${p.sent} ok ${p.ok} errors ${p.errors} p99 ${p.p99_us} µs   `),
  });
  if (o.out) writeFileSync(o.out as string, JSON.stringify(s, null, 2) + '\n');
  if (o.json) { console.log(JSON.stringify(s)); return s.unanswered === 0 ? 0 : 1; }
  process.stderr.write('\n');
  const l = s.latency_us;
  console.log(`transport ${s.transport}, ${s.connections} connection(s), offered ${s.offered_per_s}/s for ${s.seconds}s`);
  console.log(`  achieved   ${s.achieved_per_s}/s (${s.answered} of ${s.sent} answered, ${s.ok} OK)`);
  console.log(`  latency    p50 ${l.p50} µs   p90 ${l.p90} µs   p99 ${l.p99} µs   p99.9 ${l.p999} µs   max ${l.max} µs`);
  console.log(`  errors     ${Object.keys(s.errors_by_code).length ? JSON.stringify(s.errors_by_code) : 'none'}${s.unanswered ? `; ${s.unanswered} unanswered` : ''}`);
  if (s.survival_rate !== null) console.log(`  arena      survival ${s.survival_rate.toFixed(3)}, violations ${s.violation_rate!.toFixed(4)}`);
  return s.unanswered === 0 ? 0 : 1;
}
