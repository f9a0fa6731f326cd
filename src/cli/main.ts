#!/usr/bin/env node
// The `shadowpath` command. One file per subcommand; this one dispatches.
import { demo, DEMO_HELP } from './demo.js';

const HELP = `usage: shadowpath <command> [options]

commands:
  demo      run the engine in-process against synthetic agents, with a live status line

Run \`shadowpath <command> --help\` for a command's options.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(HELP);
    return cmd === undefined ? 2 : 0;
  }
  switch (cmd) {
    case 'demo':
      if (rest.includes('--help')) { console.log(DEMO_HELP); return 0; }
      return demo(rest);
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
