// `shadowpath quarantine ls|show`: reads a data directory's quarantine files
// offline.
import { join } from 'node:path';
import { readQuarantine } from '../monitor/quarantine.js';
import { parseArgs } from './args.js';

export const QUARANTINE_HELP = `usage: shadowpath quarantine ls [--data-dir DIR] [--reason R] [--limit N] [--json]
       shadowpath quarantine show ID [--data-dir DIR]

ls lists counts by reason and the latest entries (id, time, reason, agent,
cycle); show prints one entry in full. Default data directory: ./data.`;

export async function quarantineCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'show') {
    const id = rest[0];
    const o = parseArgs(rest.slice(1), { 'data-dir': 'string' });
    const e = readQuarantine(join((o['data-dir'] as string) ?? 'data', 'quarantine')).find((x) => x.id === id);
    if (!e) { console.error(`shadowpath quarantine: no entry ${id}`); return 1; }
    console.log(JSON.stringify(e, null, 2));
    return 0;
  }
  if (sub !== 'ls') { console.error('shadowpath quarantine: use ls or show (see --help)'); return 2; }
  const o = parseArgs(rest, { 'data-dir': 'string', reason: 'string', limit: 'number', json: 'boolean' });
  const all = readQuarantine(join((o['data-dir'] as string) ?? 'data', 'quarantine'));
  const sel = o.reason ? all.filter((e) => e.reason === o.reason) : all;
  const counts: Record<string, number> = {};
  for (const e of all) counts[e.reason] = (counts[e.reason] ?? 0) + 1;
  const latest = sel.slice(-((o.limit as number) ?? 20));
  if (o.json) { console.log(JSON.stringify({ total: all.length, by_reason: counts, entries: latest })); return 0; }
  console.log(`${all.length} quarantined: ${Object.entries(counts).map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}`);
  for (const e of latest) console.log(`  ${e.id.padEnd(10)} ${new Date(e.at).toISOString()}  ${e.reason.padEnd(18)} agent ${e.agent_id}  cycle ${e.cycle_id}${e.detail ? `  (${e.detail})` : ''}`);
  return 0;
}
