// `shadowpath replay failures/incident_<uuid>.json`: replays the incident's
// cycle offline and prints the decision next to the recorded one. Exit 0 only
// when they match bit for bit.
import { replay } from '../monitor/replay.js';
import { parseArgs } from './args.js';

export const REPLAY_HELP = `usage: shadowpath replay INCIDENT_FILE [--json]

Runs the cycle recorded in an incident's state snapshot through the same
engine, offline (no server), and compares the decision with the recorded one.
Exit 0 when they match bit for bit, 1 when they differ or cannot be compared
(a report or snapshot that does not exist: E_NO_INCIDENT). For a WORKER_CRASH or
INFERENCE_TIMEOUT incident the recorded kernel failure is re-injected (the
kernel is not run), and the output says so: the match checks the fallback path.`;

export async function replayCommand(argv: string[]): Promise<number> {
  const file = argv[0];
  if (!file || file.startsWith('--')) { console.error('shadowpath replay: give an incident file (failures/incident_<uuid>.json)'); return 2; }
  const o = parseArgs(argv.slice(1), { json: 'boolean' });
  const r = await replay(file);
  if (o.json) { console.log(JSON.stringify(r)); return r.match ? 0 : 1; }
  console.log(`incident ${r.incident_id} (${r.type}), cycle ${r.cycle_id} of agent ${r.agent_id}`);
  const fields = [...new Set([...Object.keys(r.recorded), ...Object.keys(r.replayed)])];
  const w = Math.max(...fields.map((f) => f.length));
  console.log(`  ${'field'.padEnd(w)}  ${'recorded'.padEnd(36)}  replayed`);
  for (const f of fields) {
    const a = JSON.stringify((r.recorded as Record<string, unknown>)[f]), b = JSON.stringify((r.replayed as Record<string, unknown>)[f]);
    console.log(`  ${f.padEnd(w)}  ${String(a).padEnd(36)}  ${b}${a === b ? '' : '   <-- differs'}`);
  }
  const reinjected = r.kernel_failure_reinjected ? ` (the kernel failure ${r.kernel_failure_reinjected} was re-injected as recorded: this checks the fallback path, not a recomputed decision)` : '';
  console.log(r.match ? `MATCH: the replayed decision is the recorded one, bit for bit${reinjected}` : `DIFFERENT in ${r.differences.map((d) => d.field).join(', ')}${reinjected}`);
  return r.match ? 0 : 1;
}
