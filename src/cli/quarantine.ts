// `shadowpath quarantine ls|show`: reads a data directory's quarantine files
// offline.
import { join } from 'node:path';
import { readQuarantine } from '../monitor/quarantine.js';
import { parseArgs } from './args.js';
import { requireDataDir } from './data-dir.js';

export const QUARANTINE_HELP = `usage: shadowpath quarantine ls [--data-dir DIR] [--reason R] [--limit N] [--json]
       shadowpath quarantine show ID [--data-dir DIR]

ls lists counts by reason and the latest entries (id, time, reason, agent,
cycle); show prints one entry in full. Default data directory: ./data (a
directory that does not exist is an error, E_NO_DATA_DIR, not "0 quarantined").

An entry's ID is FILE:LINE: the number of the quarantine file
(DIR/quarantine/q-000001.jsonl is 1) and the entry's line in it, from 1;
e.g. 1:3 is the third entry of q-000001.jsonl. ls prints the ids.`;

export async function quarantineCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === 'show') {
    const id = rest[0];
    if (id === undefined || id.startsWith('--')) { console.error('shadowpath quarantine show: give an entry ID, FILE:LINE (e.g. 1:3), as `quarantine ls` prints them'); return 2; }
    const o = parseArgs(rest.slice(1), { 'data-dir': 'string' });
    const dir = requireDataDir(o['data-dir'] as string | undefined);
    const all = readQuarantine(join(dir, 'quarantine'));
    const e = all.find((x) => x.id === id);
    if (!e) {
      const format = /^\d+:\d+$/.test(id) ? '' : `; an id is FILE:LINE, the quarantine file's number and the line in it (e.g. 1:${/^\d+$/.test(id) ? id : '3'})`;
      console.error(`shadowpath quarantine: no entry ${id} in ${join(dir, 'quarantine')}${format}; ${all.length ? `ids run from ${all[0].id} to ${all[all.length - 1].id} (shadowpath quarantine ls)` : 'the quarantine is empty'}`);
      return 1;
    }
    console.log(JSON.stringify(e, null, 2));
    return 0;
  }
  if (sub !== 'ls') { console.error('shadowpath quarantine: use ls or show (see --help)'); return 2; }
  const o = parseArgs(rest, { 'data-dir': 'string', reason: 'string', limit: 'number', json: 'boolean' });
  const all = readQuarantine(join(requireDataDir(o['data-dir'] as string | undefined), 'quarantine'));
  const sel = o.reason ? all.filter((e) => e.reason === o.reason) : all;
  const counts: Record<string, number> = {};
  for (const e of all) counts[e.reason] = (counts[e.reason] ?? 0) + 1;
  const latest = sel.slice(-((o.limit as number) ?? 20));
  if (o.json) { console.log(JSON.stringify({ total: all.length, by_reason: counts, entries: latest })); return 0; }
  console.log(`${all.length} quarantined: ${Object.entries(counts).map(([r, n]) => `${r} ${n}`).join(', ') || 'none'}`);
  for (const e of latest) console.log(`  ${e.id.padEnd(10)} ${new Date(e.at).toISOString()}  ${e.reason.padEnd(18)} agent ${e.agent_id}  cycle ${e.cycle_id}${e.detail ? `  (${e.detail})` : ''}`);
  return 0;
}
