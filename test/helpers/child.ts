import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('../fixtures/sidecar-child.mjs', import.meta.url));

/** A sidecar child process speaking one JSON line per request. */
export class Child {
  readonly proc: ChildProcess;
  private lines: string[] = [];
  private waiters: Array<{ ok: (l: string) => void; fail: (e: Error) => void }> = [];
  private dead: Error | null = null;
  readonly exited: Promise<number | null>;

  /**
   * `threads`: the kernel pool's worker threads in the child (0: the kernel on
   * its main thread); `checkpointEverySec`: the candidate checkpoint period (0: only at close).
   */
  constructor(dataDir: string, threads = Number(process.env.SP_TEST_POOL_THREADS ?? 0), checkpointEverySec = 0) {
    this.proc = spawn(process.execPath, [SCRIPT, dataDir, String(threads), String(checkpointEverySec)], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: this.proc.stdout! }).on('line', (l) => {
      const w = this.waiters.shift();
      if (w) w.ok(l); else this.lines.push(l);
    });
    this.exited = new Promise((r) => this.proc.on('exit', (code) => {
      this.dead = new Error(`child exited (${code})`);
      for (const w of this.waiters.splice(0)) w.fail(this.dead);
      r(code);
    }));
  }

  next(): Promise<Record<string, unknown>> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(JSON.parse(l));
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((ok, fail) => this.waiters.push({ ok: (x) => ok(JSON.parse(x)), fail }));
  }

  async send(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.dead) throw this.dead;
    this.proc.stdin!.write(JSON.stringify(req) + '\n');
    return this.next();
  }

  kill9(): Promise<number | null> {
    this.proc.kill('SIGKILL');
    return this.exited;
  }
}
