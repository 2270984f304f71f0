// Intel-syntax text for a decoded instruction (placeholder until the style is settled with the tests).
import { DecodeStatus, type Instruction } from "./decode.js";
import { operandsOf, type Operand } from "./operands.js";

export function formatIntel(ins: Instruction, ip: bigint): string {
  if (ins.status === DecodeStatus.Invalid || ins.status === DecodeStatus.Truncated) return "(bad)";
  const operands = operandsOf(ins, ip).map(formatOperand).join(",");
  return operands ? `${ins.mnemonic} ${operands}` : ins.mnemonic;
}

function hex(value: bigint): string {
  return "0x" + value.toString(16);
}

function formatOperand(operand: Operand): string {
  switch (operand.kind) {
    case "reg": return operand.reg;
    case "imm": return hex(operand.value);
    case "branch": return hex(operand.target);
    case "far": return `0x${operand.selector.toString(16)}:0x${operand.offset.toString(16)}`;
    case "mem": {
      const parts: string[] = [];
      if (operand.base) parts.push(operand.base);
      if (operand.index) parts.push(`${operand.index}*${operand.scale}`);
      if (operand.disp !== 0n || parts.length === 0) parts.push(hex(operand.disp));
      return `[${parts.join("+")}]`;
    }
  }
}
