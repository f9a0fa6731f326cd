import { SidecarError } from '../errors.js';
import { MAX_INTENTS } from '../kernel/layout.js';

export const DEFAULT_INTENTS = ['PRIMARY_ATTACK', 'EVADE', 'MOVE', 'HOLD', 'RELEASE', 'STOP', 'JUMP'] as const;

/** The intent vocabulary: names ↔ indices (the kernel's action ids). */
export class Intents {
  readonly names: readonly string[];
  readonly stop: number;
  private readonly byName = new Map<string, number>();

  constructor(names: readonly string[] = DEFAULT_INTENTS) {
    if (!Array.isArray(names) || names.length < 2 || names.length > MAX_INTENTS) {
      throw new SidecarError('E_CONFIG', `intents: between 2 and ${MAX_INTENTS} names are required`);
    }
    names.forEach((n, i) => {
      if (typeof n !== 'string' || !/^[A-Z][A-Z0-9_]{0,31}$/.test(n)) throw new SidecarError('E_CONFIG', `intents: "${String(n)}" must match [A-Z][A-Z0-9_]{0,31}`);
      if (this.byName.has(n)) throw new SidecarError('E_CONFIG', `intents: duplicate "${n}"`);
      this.byName.set(n, i);
    });
    this.names = [...names];
    const stop = this.byName.get('STOP');
    if (stop === undefined) throw new SidecarError('E_CONFIG', 'intents: STOP must exist');
    this.stop = stop;
  }

  get count(): number {
    return this.names.length;
  }

  get allMask(): number {
    return this.count >= 32 ? 0xffffffff : ((1 << this.count) - 1) >>> 0;
  }

  /** Index of a name, or -1. */
  index(name: unknown): number {
    return typeof name === 'string' ? this.byName.get(name) ?? -1 : -1;
  }

  require(name: string, where: string): number {
    const i = this.index(name);
    if (i < 0) throw new SidecarError('E_CONFIG', `${where}: unknown intent "${name}"`);
    return i;
  }
}
