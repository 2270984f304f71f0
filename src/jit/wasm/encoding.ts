// The WebAssembly binary format, as much of it as compiled units need: a module importing the
// machine's memory and a few JS helpers and exporting its functions (one unit, or a pack of them). Opcodes and section layout follow
// the WebAssembly core specification (binary format, §5).

export const I32 = 0x7f;
export const I64 = 0x7e;
export const F64 = 0x7c;
export const VOID = 0x40;

/** Opcodes used by the translator (core spec §5.4). */
export const OP = {
  unreachable: 0x00, block: 0x02, loop: 0x03, if: 0x04, else: 0x05, end: 0x0b,
  br: 0x0c, brIf: 0x0d, brTable: 0x0e, return: 0x0f, call: 0x10, drop: 0x1a, select: 0x1b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, i64Load: 0x29, f64Load: 0x2b,
  i64Load8U: 0x31, i64Load16U: 0x33, i64Load32U: 0x35,
  i32Store: 0x36, i64Store: 0x37,
  i64Store8: 0x3c, i64Store16: 0x3d, i64Store32: 0x3e,
  i32Const: 0x41, i64Const: 0x42, f64Const: 0x44,
  i32Eqz: 0x45, i32Eq: 0x46, i32Ne: 0x47, i32LtS: 0x48, i32LtU: 0x49, i32GtS: 0x4a, i32GtU: 0x4b,
  i32LeS: 0x4c, i32LeU: 0x4d, i32GeS: 0x4e, i32GeU: 0x4f,
  i64Eqz: 0x50, i64Eq: 0x51, i64Ne: 0x52, i64LtS: 0x53, i64LtU: 0x54, i64GtS: 0x55, i64GtU: 0x56,
  i64LeS: 0x57, i64LeU: 0x58, i64GeS: 0x59, i64GeU: 0x5a,
  f64Eq: 0x61, f64Ne: 0x62,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32And: 0x71, i32Or: 0x72, i32Xor: 0x73,
  i32Shl: 0x74, i32ShrS: 0x75, i32ShrU: 0x76,
  i64Clz: 0x79, i64Ctz: 0x7a, i64Popcnt: 0x7b,
  i64Add: 0x7c, i64Sub: 0x7d, i64Mul: 0x7e, i64DivS: 0x7f, i64DivU: 0x80, i64RemS: 0x81, i64RemU: 0x82, i64And: 0x83, i64Or: 0x84, i64Xor: 0x85,
  i64Shl: 0x86, i64ShrS: 0x87, i64ShrU: 0x88, i64Rotl: 0x89, i64Rotr: 0x8a,
  i32WrapI64: 0xa7, i64ExtendI32S: 0xac, i64ExtendI32U: 0xad, f64ConvertI64S: 0xb9,
  i64Extend8S: 0xc2, i64Extend16S: 0xc3, i64Extend32S: 0xc4,
} as const;

export function unsignedLeb(value: number, out: number[]): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Signed LEB128 of a BigInt (i64 constants) or a number (i32 constants). */
export function signedLeb(value: bigint, out: number[]): void {
  let v = value;
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

/** A function body under construction: locals are declared as they are asked for. */
export class FunctionBody {
  readonly code: number[] = [];
  private readonly localTypes: number[] = [];

  constructor(readonly paramCount: number) {}

  /** A new local of `type`; returns its index. */
  local(type: number): number {
    this.localTypes.push(type);
    return this.paramCount + this.localTypes.length - 1;
  }

  op(opcode: number): this {
    this.code.push(opcode);
    return this;
  }

  /** An opcode with one unsigned LEB128 immediate (a local, a label depth, a function index). */
  private withIndex(opcode: number, index: number): this {
    this.code.push(opcode);
    unsignedLeb(index, this.code);
    return this;
  }

  get(local: number): this {
    return this.withIndex(OP.localGet, local);
  }

  set(local: number): this {
    return this.withIndex(OP.localSet, local);
  }

  tee(local: number): this {
    return this.withIndex(OP.localTee, local);
  }

  i32(value: number): this {
    this.code.push(OP.i32Const);
    signedLeb(BigInt(value | 0), this.code);
    return this;
  }

  i64(value: bigint): this {
    this.code.push(OP.i64Const);
    signedLeb(BigInt.asIntN(64, value), this.code);
    return this;
  }

  /** A load or store with its memory immediate (alignment hint log2, byte offset). */
  mem(opcode: number, alignLog2: number, offset: number): this {
    this.code.push(opcode, alignLog2);
    unsignedLeb(offset, this.code);
    return this;
  }

  /** block/loop/if with no result */
  open(opcode: number): this {
    this.code.push(opcode, VOID);
    return this;
  }

  /** memory.copy (bulk memory): [destination, source, length] → [] */
  memoryCopy(): this {
    this.code.push(0xfc, 10, 0, 0);
    return this;
  }

  /** memory.fill (bulk memory): [destination, byte, length] → [] */
  memoryFill(): this {
    this.code.push(0xfc, 11, 0);
    return this;
  }

  br(opcode: number, depth: number): this {
    return this.withIndex(opcode, depth);
  }

  brTable(depths: number[], fallback: number): this {
    this.code.push(OP.brTable);
    unsignedLeb(depths.length, this.code);
    for (const d of depths) unsignedLeb(d, this.code);
    unsignedLeb(fallback, this.code);
    return this;
  }

  call(index: number): this {
    return this.withIndex(OP.call, index);
  }

  /** The body's bytes: locals vector (runs of equal types), code, end. */
  encode(): number[] {
    const out: number[] = [];
    const runs: [number, number][] = [];
    for (const type of this.localTypes) {
      const last = runs[runs.length - 1];
      if (last !== undefined && last[1] === type) last[0]++;
      else runs.push([1, type]);
    }
    unsignedLeb(runs.length, out);
    for (const [count, type] of runs) {
      unsignedLeb(count, out);
      out.push(type);
    }
    for (const byte of this.code) out.push(byte);
    out.push(OP.end);
    return out;
  }
}

export interface FunctionType {
  params: number[];
  results: number[];
}

export interface ModuleSpec {
  /** imported functions "h"."<name>" (called by index in import order) */
  imports: { name: string; type: FunctionType }[];
  /** the memory import "h"."m", with its size in 64 KiB pages */
  memoryPages: number;
  /** the type every defined function has */
  type: FunctionType;
  /** the defined functions' encoded bodies (FunctionBody.encode()); function k is exported as "k" */
  bodies: readonly Uint8Array[];
}

function vector(items: number[][], out: number[]): void {
  unsignedLeb(items.length, out);
  for (const item of items) for (const byte of item) out.push(byte);
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, "utf8")];
  const out: number[] = [];
  unsignedLeb(bytes.length, out);
  return out.concat(bytes);
}

function section(id: number, content: number[], out: number[]): void {
  out.push(id);
  unsignedLeb(content.length, out);
  for (const byte of content) out.push(byte);
}

function functionType(type: FunctionType): number[] {
  const out = [0x60];
  unsignedLeb(type.params.length, out);
  out.push(...type.params);
  unsignedLeb(type.results.length, out);
  out.push(...type.results);
  return out;
}

export function encodeModule(spec: ModuleSpec): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const types = [...spec.imports.map((i) => functionType(i.type)), functionType(spec.type)];
  const typeSection: number[] = [];
  vector(types, typeSection);
  section(1, typeSection, out);
  const imports: number[][] = spec.imports.map((imp, k) => {
    const entry = [...name("h"), ...name(imp.name), 0x00];
    unsignedLeb(k, entry);
    return entry;
  });
  const memory = [...name("h"), ...name("m"), 0x02, 0x01];
  unsignedLeb(spec.memoryPages, memory);
  unsignedLeb(spec.memoryPages, memory);
  imports.push(memory);
  const importSection: number[] = [];
  vector(imports, importSection);
  section(2, importSection, out);
  const count = spec.bodies.length;
  const functionSection: number[] = [];
  unsignedLeb(count, functionSection);
  for (let k = 0; k < count; k++) unsignedLeb(spec.imports.length, functionSection);
  section(3, functionSection, out);
  const exportSection: number[] = [];
  unsignedLeb(count, exportSection);
  for (let k = 0; k < count; k++) {
    exportSection.push(...name(String(k)), 0x00);
    unsignedLeb(spec.imports.length + k, exportSection);
  }
  section(7, exportSection, out);
  // the code section: bodies copied whole (a pack holds hundreds of kilobytes of them)
  const prefixes: number[][] = [];
  let codeSize = 0;
  const countPrefix: number[] = [];
  unsignedLeb(count, countPrefix);
  codeSize += countPrefix.length;
  for (const body of spec.bodies) {
    const prefix: number[] = [];
    unsignedLeb(body.length, prefix);
    prefixes.push(prefix);
    codeSize += prefix.length + body.length;
  }
  out.push(10);
  unsignedLeb(codeSize, out);
  const bytes = new Uint8Array(out.length + codeSize);
  bytes.set(out, 0);
  let at = out.length;
  bytes.set(countPrefix, at);
  at += countPrefix.length;
  spec.bodies.forEach((body, k) => {
    bytes.set(prefixes[k], at);
    at += prefixes[k].length;
    bytes.set(body, at);
    at += body.length;
  });
  return bytes;
}

/**
 * A module that imports the memory ("h"."m"), exports a growable funcref table "t" and one function
 * "call" of type `callerType` whose body is `body`; `unitType` is type index 0, for call_indirect.
 */
export function encodeCallerModule(unitType: FunctionType, callerType: FunctionType, memoryPages: number, body: FunctionBody): Uint8Array {
  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  const typeSection: number[] = [];
  vector([functionType(unitType), functionType(callerType)], typeSection);
  section(1, typeSection, out);
  const memory = [...name("h"), ...name("m"), 0x02, 0x01];
  unsignedLeb(memoryPages, memory);
  unsignedLeb(memoryPages, memory);
  const importSection: number[] = [];
  vector([memory], importSection);
  section(2, importSection, out);
  section(3, [1, 1], out);
  section(4, [1, 0x70, 0x00, 0x00], out); // one funcref table, minimum 0, no maximum
  section(7, [2, ...name("call"), 0x00, 0x00, ...name("t"), 0x01, 0x00], out);
  const encoded = body.encode();
  const codeSection: number[] = [1];
  unsignedLeb(encoded.length, codeSection);
  for (const byte of encoded) codeSection.push(byte);
  section(10, codeSection, out);
  return Uint8Array.from(out);
}

/** call_indirect of type `typeIndex` through table 0 */
export function callIndirect(body: FunctionBody, typeIndex: number): void {
  body.code.push(0x11);
  unsignedLeb(typeIndex, body.code);
  body.code.push(0x00);
}
