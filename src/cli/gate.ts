// `shadowpath gate`: the promotion gate's verdict on the current evidence,
// criterion by criterion (estimate, bound, margin, samples, evidence kind,
// verdict), with the reason and what is missing; and the post-promotion
// watch, when one runs. Read from HEARTBEAT: asking does not issue a token
// and changes nothing.
import { parseArgs } from './args.js';
import { CLIENT_HELP, CLIENT_OPTIONS, connect } from './client-args.js';
import type { Criterion } from '../control/gate.js';

export const GATE_HELP = `usage: shadowpath gate [options]

Prints the promotion gate's verdict on the evidence so far, as a table, with
the reason and what more evidence is needed; and the post-promotion watch.
Exit status: 0 the gate would pass, 1 it would refuse, 2 no candidate and no watch.

  --json              print the verdicts as JSON
${CLIENT_HELP}`;

const fmt = (x: number | null | undefined) => (x === null || x === undefined ? '-' : Number.isInteger(x) ? String(x) : x.toFixed(4));

export function criteriaTable(criteria: Criterion[]): string {
  const rows = criteria.map((c) => [c.name, c.evidence, fmt(c.estimate), fmt(c.bound), c.name === 'shadow_cycles' ? `≥ ${c.margin}` : `−${c.margin}`, String(c.samples), c.verdict.toUpperCase()]);
  const head = ['criterion', 'evidence', 'estimate', 'bound', 'margin', 'samples', 'verdict'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => (i < 2 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ');
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

export async function gateCommand(argv: string[]): Promise<number> {
  const o = parseArgs(argv, { ...CLIENT_OPTIONS, json: 'boolean' });
  const c = await connect(o);
  try {
    const hb = (await c.request({ type: 'HEARTBEAT' })) as Record<string, any>;
    const gate = hb.online_ml_metrics?.promotion_gate ?? null;
    const watch = hb.watch ?? null;
    if (o.json === true) {
      console.log(JSON.stringify({ candidate: hb.candidate_model, canary_ratio: hb.canary_ratio, gate, watch }, null, 2));
    } else {
      if (gate) {
        console.log(`candidate ${hb.candidate_model} against ${hb.active_model ?? 'the rules policy'}, canary ratio ${hb.canary_ratio} (alpha ${gate.alpha} per criterion)\n`);
        console.log(criteriaTable(gate.criteria));
        console.log(`\n${gate.pass ? `PASS (${gate.evidence} evidence)` : 'REFUSED'}: ${gate.reason}`);
        if (gate.missing) console.log(`missing: ${gate.missing}`);
      }
      if (watch) {
        console.log(`${gate ? '\n' : ''}watch of ${watch.promoted.version} (revision ${watch.promoted.revision}) against ${watch.previous?.version ?? 'the rules policy'}: ` +
          `${watch.cycles_done} of ${watch.cycles} cycles, ${(watch.holdback_ratio * 100).toFixed(0)}% of agents held back${watch.forced ? ' (forced promotion)' : ''}\n`);
        if (watch.verdict) console.log(criteriaTable(watch.verdict.criteria) + `\n\n${watch.verdict.rollback ? 'ROLLING BACK' : 'holding'}: ${watch.verdict.reason}`);
      }
      if (!gate && !watch) console.log('no candidate is set and no watch is running: nothing to judge (SET_CANDIDATE_MODEL first)');
    }
    return gate ? (gate.pass ? 0 : 1) : watch ? 0 : 2;
  } finally {
    c.close();
  }
}
