// One way to check outside input against a TypeBox schema, with an error that
// names the offending field. Used for config, Socket.io events and CLI options;
// HTTP routes get the same schemas through Fastify's type provider.
import type { Static, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';

export type Checked<T> = { ok: true; value: T } | { ok: false; field: string; message: string };

export interface Checker<S extends TSchema> {
  readonly schema: S;
  check(value: unknown): Checked<Static<S>>;
}

/** Turns a JSON pointer (/rooms/0/id) into a dotted field name (rooms[0].id). */
export function fieldName(pointer: string): string {
  if (!pointer) return '(root)';
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}

export function checker<S extends TSchema>(schema: S): Checker<S> {
  const compiled = Compile(schema);
  return {
    schema,
    check(value: unknown): Checked<Static<S>> {
      if (compiled.Check(value)) return { ok: true, value: value as Static<S> };
      const errors = [...compiled.Errors(value)];
      // Prefer the deepest, most specific error: it names the field best.
      const best = errors
        .filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'boolean')
        .sort((a, b) => b.instancePath.length - a.instancePath.length)[0] ?? errors[0];
      if (!best) return { ok: false, field: '(root)', message: 'invalid value' };
      let field = fieldName(best.instancePath);
      const params = best.params as Record<string, unknown>;
      if (best.keyword === 'required' && Array.isArray(params['requiredProperties'])) {
        const missing = String(params['requiredProperties'][0]);
        field = field === '(root)' ? missing : `${field}.${missing}`;
        return { ok: false, field, message: `${field} is required` };
      }
      if (best.keyword === 'additionalProperties' && Array.isArray(params['additionalProperties'])) {
        const extra = String(params['additionalProperties'][0]);
        field = field === '(root)' ? extra : `${field}.${extra}`;
        return { ok: false, field, message: `${field} is not allowed` };
      }
      return { ok: false, field, message: `${field} ${best.message}` };
    },
  };
}

/** `obj[key]` only when `key` is the object's own property: never a member of
 * Object.prototype ("constructor", "__proto__", "toString", ...). Use it where
 * a plain object parsed from JSON is read with a key from outside. */
export function ownValue<T>(obj: Readonly<Record<string, T>> | null | undefined, key: string): T | undefined {
  return obj != null && Object.hasOwn(obj, key) ? obj[key] : undefined;
}
