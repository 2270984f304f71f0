// The part of the WebAssembly JS API the JIT uses. TypeScript ships these types only in its DOM
// library, which this project does not load (it runs on Node, which implements the same API).
declare namespace WebAssembly {
  interface MemoryDescriptor {
    initial: number;
    maximum?: number;
  }
  class Memory {
    constructor(descriptor: MemoryDescriptor);
    readonly buffer: ArrayBuffer;
  }
  class Table {
    constructor(descriptor: { element: "anyfunc"; initial: number; maximum?: number });
    readonly length: number;
    get(index: number): unknown;
    set(index: number, value: unknown): void;
    grow(delta: number): number;
  }
  class Module {
    constructor(bytes: Uint8Array);
  }
  type ImportValue = Memory | Table | ((...args: number[]) => number | void);
  type Imports = Record<string, Record<string, ImportValue>>;
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Record<string, unknown>;
  }
  class CompileError extends Error {}
  function validate(bytes: Uint8Array): boolean;
}
