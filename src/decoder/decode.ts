// The x86 instruction decoder: prefixes, opcode maps, ModRM/SIB addressing and immediates, driven
// by the rows of opcode-table.ts. It decodes 64-bit long mode and 32-bit protected mode.
import {
  A_ANYMOD, A_MNEMONIC_BY_ADDRESS_SIZE as A_ASZ_BIT, A_D64, A_F64, A_I64, A_LOCK, A_O64, A_UNSUPPORTED, CANDIDATES, MAP_0F, MAP_0F38, MAP_0F3A,
  MAP_PRIMARY, MOD_MEM, MOD_REG, OPAQUE_ROW, PREFIX_66, PREFIX_ANY, type OpcodeRow,
} from "./opcode-rows.js";
import { startAsDoubles } from "../util/representation.js";
import { M_A, M_I, M_J, M_O, S_B, S_BS, S_V, S_W, S_Z } from "./operand-spec.js";

export type CpuMode = 64 | 32;

export enum DecodeStatus {
  Ok = 0,
  /** not an instruction: the CPU raises #UD */
  Invalid = 1,
  /** a valid instruction outside what this machine executes (x87, MMX, AVX, ...): decoded for its length */
  Unsupported = 2,
  /** the bytes ran out before the instruction ended */
  Truncated = 3,
}

export const MAX_INSTRUCTION_LENGTH = 15;

// Prefix bits of Instruction.prefixes.
export const P_LOCK = 1 << 0;
export const P_REP = 1 << 1; // F3
export const P_REPNE = 1 << 2; // F2
export const P_OPSIZE = 1 << 3; // 66
export const P_ADDRSIZE = 1 << 4; // 67
export const P_REX = 1 << 5; // a REX prefix is in effect (changes AH..BH into SPL..DIL)

/** The RIP pseudo-register number used in Instruction.base for RIP-relative addressing. */
export const BASE_RIP = 16;

/** Instruction's number fields that hold int32s get their double representation once (util/representation.ts). */
let instructionFieldsWidened = false;

/** One decoded instruction. Operand values are interpreted through row.operands. */
export class Instruction {
  status: DecodeStatus = DecodeStatus.Ok;
  length = 0;
  mode: CpuMode = 64;
  row: OpcodeRow = OPAQUE_ROW;
  /** effective operand size in bytes: 2, 4 or 8 */
  opSize = 4;
  /** effective address size in bytes: 2, 4 or 8 */
  addrSize = 8;
  prefixes = 0;
  /** the last of F2/F3 (it is the one in effect when both are present), or 0 */
  lastRepPrefix = 0;
  /** the last segment override prefix (0 ES, 1 CS, 2 SS, 3 DS, 4 FS, 5 GS) or -1 */
  segment = -1;
  rex = 0;
  /** ModRM.mod (3 = register form) */
  mod = 3;
  /** ModRM.reg extended by REX.R */
  reg = 0;
  /** ModRM.rm extended by REX.B for register forms, or the opcode's register for +r forms */
  rm = 0;
  /** memory operand: base register (or BASE_RIP, or -1), index register (or -1), scale shift, displacement */
  base = -1;
  index = -1;
  scale = 0;
  disp = 0;
  /** first immediate, branch offset, or far-pointer offset; immHi holds bits 63..32 of a 64-bit immediate or moffs */
  imm = 0;
  immHi = 0;
  /** second immediate (ENTER's nesting level) or a far pointer's selector */
  imm2 = 0;
  /**
   * The interpreter's pre-decoded handler for this instruction's form and the operands it fixed
   * (src/machine/interp/fast-forms.ts); null until the interpreter caches the instruction. Typed
   * loosely here: the decoder knows nothing of the machine that runs it.
   */
  fast: unknown = null;
  fastA = 0;
  fastB = 0;
  fastOp = 0;
  fastAddress = -1;

  constructor() {
    if (!instructionFieldsWidened) {
      startAsDoubles(this, ["disp", "imm", "immHi", "imm2", "fastB"]);
      instructionFieldsWidened = true;
    }
  }

  get mnemonic(): string {
    const names = this.row.mnemonics;
    if (names.length === 1) return names[0];
    const size = this.row.attributes & A_ASZ_BIT ? this.addrSize : this.opSize;
    return names[size === 2 ? 0 : size === 4 ? 1 : 2] || names[1];
  }
}


/** Decodes the instruction at code[offset]; reads at most 15 bytes. */
export function decode(code: Uint8Array, offset: number, mode: CpuMode): Instruction {
  const instruction = new Instruction();
  decodeInto(instruction, code, offset, mode);
  return instruction;
}

function finish(ins: Instruction, status: DecodeStatus, length: number): void {
  ins.status = status;
  ins.length = length;
}

/** Decodes into an existing Instruction (no allocation), resetting every field. */
export function decodeInto(ins: Instruction, code: Uint8Array, offset: number, mode: CpuMode): void {
  const is64 = mode === 64;
  const available = code.length - offset;
  const limit = available < MAX_INSTRUCTION_LENGTH ? code.length : offset + MAX_INSTRUCTION_LENGTH;
  ins.mode = mode;
  ins.row = OPAQUE_ROW;
  ins.segment = -1;
  ins.rex = 0;
  ins.mod = 3;
  ins.reg = 0;
  ins.rm = 0;
  ins.base = -1;
  ins.index = -1;
  ins.scale = 0;
  ins.disp = 0;
  ins.imm = 0;
  ins.immHi = 0;
  ins.imm2 = 0;
  ins.fast = null;

  // Legacy and REX prefixes. A REX prefix only counts when it comes last.
  let pos = offset;
  let prefixes = 0;
  let lastRep = 0; // mandatory-prefix class of the last F2/F3 seen
  let segment = -1;
  let rex = 0;
  let byte = 0;
  for (;;) {
    if (pos >= limit) return finish(ins, truncatedOrTooLong(code, offset, pos + 1), pos - offset);
    byte = code[pos];
    if (isLegacyPrefix(byte)) {
      switch (byte) {
        case 0xf0: prefixes |= P_LOCK; break;
        case 0xf2: prefixes |= P_REPNE; lastRep = 3; break;
        case 0xf3: prefixes |= P_REP; lastRep = 2; break;
        case 0x66: prefixes |= P_OPSIZE; break;
        case 0x67: prefixes |= P_ADDRSIZE; break;
        case 0x64: segment = 4; break;
        case 0x65: segment = 5; break;
        // 26 ES, 2E CS, 36 SS, 3E DS. In long mode these have no effect and do not displace FS/GS.
        default: if (!is64 || segment < 4) segment = (byte >> 3) & 3;
      }
      rex = 0;
      pos++;
    } else if (is64 && (byte & 0xf0) === 0x40) {
      rex = byte;
      pos++;
    } else break;
  }
  ins.prefixes = prefixes | (rex ? P_REX : 0);
  ins.lastRepPrefix = lastRep === 3 ? 0xf2 : lastRep === 2 ? 0xf3 : 0;
  ins.segment = segment;
  ins.rex = rex;
  const addrSize = is64 ? (prefixes & P_ADDRSIZE ? 4 : 8) : (prefixes & P_ADDRSIZE ? 2 : 4);
  ins.addrSize = addrSize;

  // Opcode bytes and escapes.
  let map = MAP_PRIMARY;
  let opcode = code[pos++];
  if (opcode === 0x0f) {
    if (pos >= limit) return finish(ins, truncatedOrTooLong(code, offset, pos + 1), pos - offset);
    opcode = code[pos++];
    map = MAP_0F;
    if (opcode === 0x38 || opcode === 0x3a) {
      map = opcode === 0x38 ? MAP_0F38 : MAP_0F3A;
      if (pos >= limit) return finish(ins, truncatedOrTooLong(code, offset, pos + 1), pos - offset);
      opcode = code[pos++];
    } else if (opcode === 0x0f) {
      // 3DNow!: ModRM operands, then the real opcode as a trailing byte.
      return decodeOpaque(ins, code, offset, pos, limit, addrSize, rex, true, 1);
    }
  } else if (opcode === 0xc4 || opcode === 0xc5 || opcode === 0x62 || opcode === 0x8f) {
    if (pos >= limit) return finish(ins, truncatedOrTooLong(code, offset, pos + 1), pos - offset);
    const next = code[pos];
    if (opcode === 0x8f) {
      if ((next & 0x38) !== 0) return decodeVexFamily(ins, code, offset, pos, limit, addrSize, opcode);
    } else if (is64 || next >= 0xc0) {
      return decodeVexFamily(ins, code, offset, pos, limit, addrSize, opcode);
    }
  }

  const candidates = CANDIDATES[map * 256 + opcode];
  if (candidates === undefined) {
    if (map === MAP_0F38) return decodeOpaque(ins, code, offset, pos, limit, addrSize, rex, true, 0);
    if (map === MAP_0F3A) return decodeOpaque(ins, code, offset, pos, limit, addrSize, rex, true, 1);
    return finish(ins, DecodeStatus.Invalid, pos - offset);
  }

  let modrm = 0;
  if (candidates[0].hasModrm) {
    if (pos >= limit) return finish(ins, truncatedOrTooLong(code, offset, pos + 1), pos - offset);
    modrm = code[pos++];
  }
  const mod = modrm >> 6;
  const regBits = (modrm >> 3) & 7;
  const rmBits = modrm & 7;
  const mandatory = lastRep !== 0 ? lastRep : prefixes & P_OPSIZE ? PREFIX_66 : 0;
  const rexW = rex & 8 ? 1 : 0;
  const rexB = rex & 1;

  let row: OpcodeRow | undefined;
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[i];
    if (candidate.prefix !== PREFIX_ANY && candidate.prefix !== mandatory) continue;
    if (candidate.excludedPrefix === mandatory) continue;
    if (candidate.modrmReg >= 0 && candidate.modrmReg !== regBits) continue;
    if (candidate.mod === MOD_MEM ? mod === 3 : candidate.mod === MOD_REG && mod !== 3) continue;
    if (candidate.modrmRm >= 0 && candidate.modrmRm !== rmBits) continue;
    if (candidate.rexW >= 0 && candidate.rexW !== rexW) continue;
    if (candidate.rexB >= 0 && candidate.rexB !== rexB) continue;
    const attributes = candidate.attributes;
    if (is64 ? attributes & A_I64 : attributes & A_O64) continue;
    row = candidate;
    break;
  }
  if (row === undefined) {
    if (map === MAP_0F38 || map === MAP_0F3A) return decodeOpaque(ins, code, offset, pos - 1, limit, addrSize, rex, true, map === MAP_0F3A ? 1 : 0);
    return finish(ins, DecodeStatus.Invalid, pos - offset);
  }
  ins.row = row;
  const attributes = row.attributes;

  // Effective operand size. A 66 prefix used as a mandatory prefix does not change it.
  const opsizePrefix = (prefixes & P_OPSIZE) !== 0 && row.prefix !== PREFIX_66;
  let opSize: number;
  if (is64) {
    if (attributes & A_F64) opSize = 8;
    else if (rexW) opSize = 8;
    else if (opsizePrefix) opSize = 2;
    else opSize = attributes & A_D64 ? 8 : 4;
  } else {
    opSize = opsizePrefix ? 2 : 4;
  }
  ins.opSize = opSize;

  if (prefixes & P_LOCK && (!(attributes & A_LOCK) || mod === 3)) return finish(ins, DecodeStatus.Invalid, pos - offset);

  // ModRM operands.
  if (row.hasModrm) {
    const reg = regBits | ((rex & 4) << 1);
    ins.reg = reg;
    // CR1, CR5-7, CR9-15 and DR8-15 do not exist.
    if (row.registerCheck !== 0 && (row.registerCheck === 1 ? reg > 8 || (reg !== 0 && reg !== 8 && (reg === 1 || reg > 4)) : reg > 7)) {
      return finish(ins, DecodeStatus.Invalid, pos - offset);
    }
    if (mod === 3 || attributes & A_ANYMOD) {
      ins.mod = 3;
      ins.rm = rmBits | (rexB << 3);
    } else {
      ins.mod = mod;
      pos = decodeMemory(ins, code, pos, limit, mod, rmBits, addrSize, rex);
      if (pos < 0) return finish(ins, truncatedOrTooLong(code, offset, -pos), -pos - offset);
    }
  } else if (row.plusRegister) {
    ins.rm = (opcode & 7) | (rexB << 3);
  }

  // Immediates, branch offsets, moffs and far pointers, in operand order.
  const operands = row.operands;
  let immediates = 0;
  for (let i = 0; i < operands.length; i++) {
    const method = operands[i].method;
    let bytes: number;
    if (method === M_I) {
      const size = operands[i].size;
      bytes = size === S_B || size === S_BS ? 1 : size === S_W ? 2 : size === S_Z ? (opSize === 2 ? 2 : 4) : size === S_V ? opSize : 4;
    } else if (method === M_J) {
      bytes = operands[i].size === S_B ? 1 : opSize === 2 ? 2 : 4;
    } else if (method === M_O) {
      bytes = addrSize;
    } else if (method === M_A) {
      bytes = opSize === 2 ? 4 : 6;
    } else continue;
    if (pos + bytes > limit) return finish(ins, truncatedOrTooLong(code, offset, pos + bytes), Math.min(pos + bytes, limit) - offset);
    if (method === M_A) {
      const offsetBytes = bytes - 2;
      ins.imm = readUnsigned(code, pos, offsetBytes);
      ins.imm2 = code[pos + offsetBytes] | (code[pos + offsetBytes + 1] << 8);
    } else if (immediates === 0) {
      if (bytes === 8) {
        ins.imm = readUnsigned(code, pos, 4);
        ins.immHi = readUnsigned(code, pos + 4, 4);
      } else {
        ins.imm = method === M_O ? readUnsigned(code, pos, bytes) : readSigned(code, pos, bytes);
      }
    } else {
      ins.imm2 = readUnsigned(code, pos, bytes);
    }
    immediates++;
    pos += bytes;
  }

  finish(ins, attributes & A_UNSUPPORTED ? DecodeStatus.Unsupported : DecodeStatus.Ok, pos - offset);
}

function isLegacyPrefix(byte: number): boolean {
  switch (byte) {
    case 0xf0: case 0xf2: case 0xf3: case 0x26: case 0x2e: case 0x36: case 0x3e: case 0x64: case 0x65: case 0x66: case 0x67:
      return true;
  }
  return false;
}

/**
 * An instruction that needs the bytes up to `end` (exclusive) is invalid if that makes it longer
 * than 15 bytes, else truncated if the buffer ends first.
 */
function truncatedOrTooLong(code: Uint8Array, offset: number, end: number): DecodeStatus {
  return end - offset > MAX_INSTRUCTION_LENGTH || end <= code.length ? DecodeStatus.Invalid : DecodeStatus.Truncated;
}

function readSigned(code: Uint8Array, pos: number, bytes: number): number {
  if (bytes === 1) return (code[pos] << 24) >> 24;
  if (bytes === 2) return ((code[pos] | (code[pos + 1] << 8)) << 16) >> 16;
  return code[pos] | (code[pos + 1] << 8) | (code[pos + 2] << 16) | (code[pos + 3] << 24);
}

function readUnsigned(code: Uint8Array, pos: number, bytes: number): number {
  if (bytes === 1) return code[pos];
  if (bytes === 2) return code[pos] | (code[pos + 1] << 8);
  return (code[pos] | (code[pos + 1] << 8) | (code[pos + 2] << 16) | (code[pos + 3] << 24)) >>> 0;
}

/**
 * Decodes a memory ModRM operand (mod 0-2) with its SIB and displacement. Returns the position
 * after it, or minus the position the operand would need when the bytes run out.
 */
function decodeMemory(ins: Instruction, code: Uint8Array, pos: number, limit: number, mod: number, rmBits: number, addrSize: number, rex: number): number {
  if (addrSize === 2) {
    // 16-bit addressing: fixed base/index pairs, 16-bit displacement.
    const BASES = [3, 3, 5, 5, 6, 7, 5, 3];
    const INDEXES = [6, 7, 6, 7, -1, -1, -1, -1];
    let dispBytes = mod === 1 ? 1 : mod === 2 ? 2 : 0;
    if (mod === 0 && rmBits === 6) {
      ins.base = -1;
      dispBytes = 2;
    } else {
      ins.base = BASES[rmBits];
      ins.index = INDEXES[rmBits];
    }
    if (pos + dispBytes > limit) return -(pos + dispBytes);
    if (dispBytes) ins.disp = mod === 0 ? readUnsigned(code, pos, 2) : readSigned(code, pos, dispBytes);
    return pos + dispBytes;
  }
  let dispBytes = mod === 1 ? 1 : mod === 2 ? 4 : 0;
  if (rmBits === 4) {
    if (pos >= limit) return -(pos + 1);
    const sib = code[pos++];
    const index = ((sib >> 3) & 7) | ((rex & 2) << 2);
    ins.index = index === 4 ? -1 : index;
    ins.scale = sib >> 6;
    if ((sib & 7) === 5 && mod === 0) {
      ins.base = -1;
      dispBytes = 4;
    } else {
      ins.base = (sib & 7) | ((rex & 1) << 3);
    }
  } else if (rmBits === 5 && mod === 0) {
    ins.base = ins.mode === 64 ? BASE_RIP : -1;
    dispBytes = 4;
  } else {
    ins.base = rmBits | ((rex & 1) << 3);
  }
  if (pos + dispBytes > limit) return -(pos + dispBytes);
  if (dispBytes) ins.disp = readSigned(code, pos, dispBytes);
  return pos + dispBytes;
}

/**
 * Length-only decoding after the opcode: an optional ModRM operand and `immediateBytes` more.
 * `pos` points at the ModRM byte.
 */
function decodeOpaque(ins: Instruction, code: Uint8Array, offset: number, pos: number, limit: number, addrSize: number, rex: number, hasModrm: boolean, immediateBytes: number): void {
  ins.row = OPAQUE_ROW;
  if (hasModrm) {
    if (pos >= limit) return finish(ins, truncatedOrTooLong(code, offset, pos + 1), pos - offset);
    const modrm = code[pos++];
    if (modrm >> 6 !== 3) {
      pos = decodeMemory(ins, code, pos, limit, modrm >> 6, modrm & 7, addrSize, rex);
      if (pos < 0) return finish(ins, truncatedOrTooLong(code, offset, -pos), Math.min(-pos, limit) - offset);
    }
  }
  if (pos + immediateBytes > limit) return finish(ins, truncatedOrTooLong(code, offset, pos + immediateBytes), Math.min(pos + immediateBytes, limit) - offset);
  finish(ins, DecodeStatus.Unsupported, pos + immediateBytes - offset);
}

/** Length-only decoding of VEX (C4/C5), EVEX (62) and XOP (8F) encoded instructions. `pos` points after the escape byte. */
function decodeVexFamily(ins: Instruction, code: Uint8Array, offset: number, pos: number, limit: number, addrSize: number, escape: number): void {
  const payload = escape === 0xc5 ? 1 : escape === 0x62 ? 3 : 2;
  if (pos + payload >= limit) return finish(ins, truncatedOrTooLong(code, offset, pos + payload + 1), Math.min(pos + payload + 1, limit) - offset);
  let map: number;
  if (escape === 0xc5) map = 1;
  else if (escape === 0x62) map = code[pos] & 7;
  else map = code[pos] & 0x1f;
  const validMaps = escape === 0x8f ? map >= 8 && map <= 10 : escape === 0x62 ? map === 1 || map === 2 || map === 3 || map === 5 || map === 6 : map >= 1 && map <= 3;
  pos += payload;
  const opcode = code[pos++];
  if (!validMaps) return finish(ins, DecodeStatus.Invalid, pos - offset);
  let immediateBytes = 0;
  if (escape === 0x8f) immediateBytes = map === 8 ? 1 : map === 10 ? 4 : 0;
  else if (map === 3) immediateBytes = 1;
  else if (map === 1 && ((opcode >= 0x70 && opcode <= 0x73) || (opcode >= 0xc4 && opcode <= 0xc6) || opcode === 0xc2)) immediateBytes = 1;
  const hasModrm = !(escape !== 0x62 && escape !== 0x8f && map === 1 && opcode === 0x77);
  // VEX.R/X/B are inverted and only extend registers: they never change the length.
  decodeOpaque(ins, code, offset, pos, limit, addrSize, 0, hasModrm, immediateBytes);
}
