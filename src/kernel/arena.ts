// Allocation of regions in the kernel's shared memory. Only the main thread
// allocates; workers are handed byte offsets. Regions are 16-byte aligned (the
// kernel's SIMD loads rely on it). Freed regions are kept in exact-size free
// lists: the engine allocates few sizes (models of one schema, batch slots),
// so exact-size reuse is enough and keeps this simple.
import { MAX_PAGES, PAGE } from './host.js';
import { SidecarError } from '../errors.js';

const ALIGN = 64;

export class Arena {
  private top: number;
  private readonly free = new Map<number, number[]>();
  private readonly sizes = new Map<number, number>();

  constructor(private readonly memory: WebAssembly.Memory, heapBase: number, private readonly onGrow: () => void = () => {}) {
    this.top = align(heapBase + 1024);
  }

  /** A zero-filled region of `bytes` bytes; returns its byte offset. */
  alloc(bytes: number): number {
    const size = align(Math.max(bytes, ALIGN));
    const list = this.free.get(size);
    let ptr: number;
    if (list && list.length > 0) {
      ptr = list.pop()!;
    } else {
      ptr = this.top;
      const end = ptr + size;
      const have = this.memory.buffer.byteLength;
      if (end > have) {
        const pages = Math.ceil((end - have) / PAGE);
        if (have / PAGE + pages > MAX_PAGES) {
          throw new SidecarError('E_KERNEL_ARGS', `kernel memory exhausted: ${end} bytes wanted, ${MAX_PAGES * PAGE} at most`);
        }
        this.memory.grow(pages);
        this.onGrow();
      }
      this.top = end;
    }
    new Uint8Array(this.memory.buffer, ptr, size).fill(0);
    this.sizes.set(ptr, size);
    return ptr;
  }

  release(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) throw new SidecarError('E_KERNEL_ARGS', `release of a region that is not allocated: ${ptr}`);
    this.sizes.delete(ptr);
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(ptr);
  }

  get bytesInUse(): number {
    let n = 0;
    for (const s of this.sizes.values()) n += s;
    return n;
  }
}

function align(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
