// Generators of hostile input for fuzzing the edges: every Object.prototype
// name as a key and as a value, odd scalars, nesting, and field names the
// schemas know, so that a share of cases gets past validation into handlers.
import fc from 'fast-check';

export const prototypeNames: readonly string[] = Object.getOwnPropertyNames(Object.prototype);

export const protoName = fc.constantFrom(...prototypeNames);

export const hostileString = fc.oneof(
  { weight: 4, arbitrary: protoName },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 16, maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constantFrom('', ' ', '..', '../../etc/passwd', '%00', '\u0000', 'a'.repeat(300), '{}', '[]', 'null', '1e309', '-1', '0') }
);

export const scalar = fc.oneof(
  { weight: 5, arbitrary: hostileString },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1024, 65535, 65536, Number.MAX_SAFE_INTEGER) }
);

/** A JSON-like value whose keys and strings are hostile, `depth` levels deep. */
export function hostileValue(keys: readonly string[] = []): fc.Arbitrary<unknown> {
  const key = keys.length ? fc.oneof(protoName, fc.constantFrom(...keys), fc.string({ maxLength: 12 })) : fc.oneof(protoName, fc.string({ maxLength: 12 }));
  const { value } = fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(key, tie('value'), { maxKeys: 5 })
    ),
  }));
  return value;
}

/** An object with (some of) the given field names, each holding a hostile or plausible value. */
export function shapedObject(
  fields: readonly string[],
  plausible: fc.Arbitrary<unknown> | ((field: string) => fc.Arbitrary<unknown>)
): fc.Arbitrary<Record<string, unknown>> {
  const forField = typeof plausible === 'function' ? plausible : () => plausible;
  const entries = fields.map((f) => [f, fc.oneof({ weight: 4, arbitrary: forField(f) }, { weight: 1, arbitrary: hostileValue(fields) })] as const);
  return fc
    .tuple(
      fc.oneof(fc.record(Object.fromEntries(entries)), fc.record(Object.fromEntries(entries), { requiredKeys: [] })),
      fc.dictionary(protoName, scalar, { maxKeys: 2 }),
      fc.integer({ min: 0, max: 3 })
    )
    .map(([base, extra, addExtra]) => (addExtra === 0 ? { ...base, ...extra } : base));
}

/** Sends `x` the way a client would: through JSON, so "__proto__" becomes an own key. */
export function overTheWire(x: unknown): unknown {
  const text = JSON.stringify(x);
  return text === undefined ? undefined : JSON.parse(text);
}
