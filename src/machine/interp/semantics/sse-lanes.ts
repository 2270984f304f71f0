// The SSE semantics' staging area: three 128-bit values in one 48-byte buffer with a typed view per
// element type, so lane access and float/integer reinterpretation never allocate.
//   A (dwords 0-3): the destination register's old value (the first source operand)
//   B (dwords 4-7): the second source operand (register or memory)
//   R (dwords 8-11): the result, copied to the destination once nothing can fault any more
// Indexes per view: A starts at 0, B at 16/8/4/2 and R at 32/16/8/4 for byte/word/dword/qword views.

const buffer = new ArrayBuffer(48);
export const I8 = new Int8Array(buffer);
export const U8 = new Uint8Array(buffer);
export const I16 = new Int16Array(buffer);
export const U16 = new Uint16Array(buffer);
export const I32 = new Int32Array(buffer);
export const U32 = new Uint32Array(buffer);
export const F32 = new Float32Array(buffer);
export const F64 = new Float64Array(buffer);

/** Dword offsets of the three values. */
export const A = 0;
export const B = 4;
export const R = 8;
