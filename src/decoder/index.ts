// The x86-64 decoder and disassembler: public interface.
export { decode, decodeInto, DecodeStatus, Instruction, MAX_INSTRUCTION_LENGTH, type CpuMode } from "./decode.js";
export { operandsOf, type Operand } from "./operands.js";
export { canonicalOf, type CanonInstruction, type CanonOperand, type CanonFlags } from "./canonical.js";
export { formatIntel } from "./format.js";
export { OPCODE_TABLE, type OpcodeRow } from "./opcode-rows.js";
