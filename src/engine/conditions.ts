// Declarative conditions over parsed state values, shared by the safety rules
// and the rules policy. A condition object maps field names to a literal
// (equality; booleans compare as true/false) or to comparisons
// {lt, lte, gt, gte, eq, ne}; every entry must hold. Conditions are compiled
// once into closures over field indices, so matching a cycle costs a few
// numeric comparisons.
import { SidecarError } from '../errors.js';
import type { StateSchema } from './state-schema.js';

export type Comparison = { lt?: number; lte?: number; gt?: number; gte?: number; eq?: number | boolean; ne?: number | boolean };
export type Condition = Record<string, number | boolean | Comparison>;
export type Matcher = (values: Float64Array) => boolean;

const OPS = ['lt', 'lte', 'gt', 'gte', 'eq', 'ne'] as const;

const num = (v: number | boolean): number => (typeof v === 'boolean' ? (v ? 1 : 0) : v);

export function compileCondition(cond: Condition, schema: StateSchema, where: string): Matcher {
  if (typeof cond !== 'object' || cond === null || Array.isArray(cond)) {
    throw new SidecarError('E_CONFIG', `${where}: \`when\` must be an object of field conditions`);
  }
  const tests: Matcher[] = [];
  for (const [field, spec] of Object.entries(cond)) {
    const idx = schema.index(field);
    if (idx < 0) throw new SidecarError('E_CONFIG', `${where}: unknown state field "${field}"`);
    if (typeof spec === 'number' || typeof spec === 'boolean') {
      const v = num(spec);
      tests.push((x) => x[idx] === v);
      continue;
    }
    if (typeof spec !== 'object' || spec === null) throw new SidecarError('E_CONFIG', `${where}: condition on "${field}" must be a literal or {lt,lte,gt,gte,eq,ne}`);
    for (const [op, raw] of Object.entries(spec)) {
      if (!(OPS as readonly string[]).includes(op)) throw new SidecarError('E_CONFIG', `${where}: unknown operator "${op}" on "${field}"`);
      if (typeof raw !== 'number' && typeof raw !== 'boolean') throw new SidecarError('E_CONFIG', `${where}: "${field}.${op}" must be a number or boolean`);
      const v = num(raw);
      switch (op) {
        case 'lt': tests.push((x) => x[idx] < v); break;
        case 'lte': tests.push((x) => x[idx] <= v); break;
        case 'gt': tests.push((x) => x[idx] > v); break;
        case 'gte': tests.push((x) => x[idx] >= v); break;
        case 'eq': tests.push((x) => x[idx] === v); break;
        default: tests.push((x) => x[idx] !== v);
      }
    }
  }
  if (tests.length === 0) return () => true;
  return (x) => {
    for (let i = 0; i < tests.length; i++) if (!tests[i](x)) return false;
    return true;
  };
}
