// Loading and instantiating the WASM kernel, and the typed views over its
// memory.
//
// The kernel's memory is a *shared* WebAssembly.Memory created here, on the
// main thread, and handed to every pool worker: each worker instantiates the
// same compiled module over the same memory. Models, feature rows and results
// therefore never cross threads by copy: the main thread writes a batch into
// a region of the shared memory, a worker runs the kernel on it in place, and
// the main thread reads the results from the same bytes. Only a few numbers
// (region offsets) travel in the worker message.
//
// Instantiating over a memory that is in use is safe: the module's only data
// segments are constant math tables below heapBase(), rewritten with the same
// bytes, and the kernel keeps no state in globals.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename, dirname, join, resolve } from 'node:path';
import { SidecarError } from '../errors.js';
import { Mem } from './reference.js';

export interface KernelExports {
  memory: WebAssembly.Memory;
  noop(): number;
  heapBase(): number;
  forward(model: number, x: number, scratch: number): number;
  checkFinite(model: number): number;
  decideBatch(model: number, feats: number, ctrl: number, n: number, out: number, scratch: number,
    epsilon: number, temperature: number, mode: number): number;
  updateBatch(model: number, exps: number, m: number, scratch: number, lr: number, l2: number, iwClip: number, gradClip: number): number;
  update(model: number, x: number, action: number, reward: number, propensity: number, scratch: number,
    lr: number, l2: number, iwClip: number, gradClip: number): number;
  softmax(scores: number, k: number, temperature: number, probs: number): number;
  argmax(scores: number, k: number): number;
  maskedArgmax(scores: number, k: number, mask: number): number;
  validMask(mask: number, k: number): number;
  greedyAllowed(scores: number, k: number, mask: number, proposed: number, pref: number): number;
  explore(probs: number, k: number, mask: number, greedy: number, epsilon: number, mode: number, seed: number, key: number, propOut: number): number;
  [layoutFn: string]: unknown;
}

export const PAGE = 65536;
/** Declared maximum of the shared memory (pages): 1 GiB of address space, reserved not committed. */
export const MAX_PAGES = 16384;

let cachedModule: WebAssembly.Module | undefined;

/** The path of the release kernel, built by `npm run build:wasm`. */
export function kernelPath(): string {
  return join(packageRoot(), 'build', 'kernel.wasm');
}

/** The package's root: two folders above src/kernel, three above dist/src/kernel. */
export function packageRoot(): string {
  const up2 = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
  return basename(up2) === 'dist' ? dirname(up2) : up2;
}

/** Compiles build/kernel.wasm once per thread. */
export function kernelModule(): WebAssembly.Module {
  if (cachedModule) return cachedModule;
  let bytes: Buffer;
  try {
    bytes = readFileSync(kernelPath());
  } catch (e) {
    throw new SidecarError('E_KERNEL_LOAD', `cannot read the WASM kernel at ${kernelPath()} (run npm run build): ${(e as Error).message}`);
  }
  try {
    cachedModule = new WebAssembly.Module(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new SidecarError('E_KERNEL_LOAD', `the WASM kernel does not compile: ${(e as Error).message}`);
  }
  return cachedModule;
}

export function createSharedMemory(initialPages = 16): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: initialPages, maximum: MAX_PAGES, shared: true });
}

/** One instance of the kernel over a (shared) memory, with views that follow its growth. */
export class KernelInstance {
  readonly exports: KernelExports;
  readonly memory: WebAssembly.Memory;
  private mem: Mem;

  constructor(memory: WebAssembly.Memory, module: WebAssembly.Module = kernelModule()) {
    this.memory = memory;
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(module, { env: { memory, abort: kernelAbort } });
    } catch (e) {
      throw new SidecarError('E_KERNEL_LOAD', `the WASM kernel does not instantiate: ${(e as Error).message}`);
    }
    this.exports = instance.exports as unknown as KernelExports;
    this.mem = new Mem(memory.buffer);
  }

  /**
   * Views over the whole memory. Reading `memory.buffer` of a shared memory
   * is not free (it may make a new SharedArrayBuffer object), so the views are
   * kept until refresh(): the thread that grows the memory (the main thread,
   * through Arena) calls it after every grow.
   */
  views(): Mem {
    return this.mem;
  }

  refresh(): void {
    this.mem = new Mem(this.memory.buffer);
  }
}

function kernelAbort(): never {
  throw new SidecarError('E_KERNEL_ARGS', 'the WASM kernel aborted');
}
