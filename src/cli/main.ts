#!/usr/bin/env node
// The `shadowpath` command. One file per subcommand; this one dispatches.
import { demo, DEMO_HELP } from './demo.js';
import { auditCommand, AUDIT_HELP } from './audit.js';
import { serve, SERVE_HELP } from './serve.js';
import { cmdCommand, CMD_HELP, heartbeatCommand, HEARTBEAT_HELP } from './cmd.js';
import { loadgenCommand, LOADGEN_HELP } from './loadgen.js';
import { replayCommand, REPLAY_HELP } from './replay.js';
import { quarantineCommand, QUARANTINE_HELP } from './quarantine.js';
import { healthCommand, HEALTH_HELP } from './health.js';
import { gateCommand, GATE_HELP } from './gate.js';
import { modelCommand, MODEL_HELP } from './model.js';
import { operatorsCommand, OPERATORS_HELP } from './operators.js';

const HELP = `usage: shadowpath <command> [options]

commands:
  serve         run the sidecar (TCP and HTTP) on a data directory
  cmd TYPE      send a command (two-step commands ask for confirmation)
  heartbeat     print the server's HEARTBEAT
  health        the daily health checklist (PASS/WARN/FAIL per check)
  gate          the promotion gate's verdict on the evidence so far, and the watch
  model         export VERSION | register FILE: move a model between sidecars
  loadgen       offer cycles at a fixed rate (open loop); report latency, errors, forced STOPs, the server's mode
  replay FILE   replay an incident's failing cycle offline and compare the decision
  quarantine    ls | show ID: the blocked experiences of a data directory
  demo          serve a data directory (TCP and HTTP) and drive it with arena agents over TCP,
                walking the shadow path to a promoted model, with a live status line
  audit verify  verify a data directory's audit chain offline
  operators     add ID --role R: add an operator (hashed secret) to an operators file

Run \`shadowpath <command> --help\` for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(HELP);
    return cmd === undefined ? 2 : 0;
  }
  const help: Record<string, string> = { serve: SERVE_HELP, cmd: CMD_HELP, heartbeat: HEARTBEAT_HELP, demo: DEMO_HELP, audit: AUDIT_HELP, loadgen: LOADGEN_HELP, replay: REPLAY_HELP, quarantine: QUARANTINE_HELP, health: HEALTH_HELP, gate: GATE_HELP, model: MODEL_HELP, operators: OPERATORS_HELP };
  if (help[cmd] && (rest.includes('--help') || rest.includes('-h'))) { console.log(help[cmd]); return 0; }
  switch (cmd) {
    case 'serve': return serve(rest);
    case 'cmd': return cmdCommand(rest);
    case 'heartbeat': return heartbeatCommand(rest);
    case 'loadgen': return loadgenCommand(rest);
    case 'replay': return replayCommand(rest);
    case 'quarantine': return quarantineCommand(rest);
    case 'health': return healthCommand(rest);
    case 'gate': return gateCommand(rest);
    case 'model': return modelCommand(rest);
    case 'operators': return operatorsCommand(rest);
    case 'demo':
      if (rest.includes('--help')) { console.log(DEMO_HELP); return 0; }
      return demo(rest);
    case 'audit':
      if (rest.includes('--help') || rest.length === 0) { console.log(AUDIT_HELP); return rest.length === 0 ? 2 : 0; }
      return auditCommand(rest);
    default:
      console.error(`shadowpath: unknown command "${cmd}" (see shadowpath --help)`);
      return 2;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e: unknown) => {
  const err = e as { code?: string; message?: string };
  console.error(`shadowpath: ${err.code ? err.code + ': ' : ''}${err.message ?? String(e)}`);
  process.exitCode = 1;
});
