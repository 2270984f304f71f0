// V8 gives every object field a representation, and a field whose first value is a small integer
// starts as "Smi" (31-bit integers). The first value outside that range stored into it (an int32
// beyond ±2^30, a 64-bit half, an address, a fraction) moves every object of the class to a new
// map, and every optimised function that touched the old map deoptimises ("wrong map"): the
// interpreter's hot functions did so dozens of times in the first second of a run, each time
// falling back to V8's bytecode interpreter until they were optimised again.

/**
 * Makes the named number fields of `object` (an instance just constructed) hold doubles from the
 * start, keeping their values: V8 then never has to widen them later.
 */
export function startAsDoubles(object: object, fields: readonly string[]): void {
  const record = object as Record<string, number>;
  for (const field of fields) {
    const value = record[field]!;
    record[field] = 0.5;
    record[field] = value;
  }
}
