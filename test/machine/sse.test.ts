// SSE/SSE2 semantics. The floating-point core is checked bit for bit (results, MXCSR flags, RFLAGS)
// against the host CPU: a C harness compiled with gcc at test time runs each instruction natively
// under a given MXCSR on a table of inputs (edge values: zeros, denormals, infinities, QNaN/SNaN,
// extreme normals, halfway cases, integer boundaries; plus seeded random values), and the emulator
// runs the same instruction bytes, which the harness also provides (assembled by gas).
// The other tests cover what the host comparison does not: memory forms and alignment, exceptions
// (unmasked, #UD/#NM/#GP), FXSAVE/FXRSTOR, MASKMOVDQU, the fast paths against the exact BigInt
// reference, and that every SSE row the decoder accepts has semantics.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decode, DecodeStatus, OPCODE_TABLE, type Instruction } from "../../src/decoder/index.js";
import { A_UNSUPPORTED } from "../../src/decoder/opcode-rows.js";
import { M_MASKMOV, M_U, M_V, M_W } from "../../src/decoder/operand-spec.js";
import { CR4_OSFXSR, CR4_OSXMMEXCPT, CR0_EM, CR0_TS, Cpu } from "../../src/machine/cpu.js";
import { CpuException, VEC_GP, VEC_NM, VEC_UD, VEC_XM } from "../../src/machine/cpu-exception.js";
import { PortBus } from "../../src/machine/io-bus.js";
import { PhysicalMemory } from "../../src/machine/memory.js";
import { modrmAddress } from "../../src/machine/interp/operand-access.js";
import { SSE } from "../../src/machine/interp/semantics/sse.js";
import {
  BINARY32, BINARY64, bits32, bits64, fpEnv, highWord, lowWord, softAdd, softDiv, softMul, softSqrt,
} from "../../src/machine/interp/semantics/softfloat.js";
import { addSub32, addSub64, beginFp, div32, div64, mul32, mul64, sqrt32, sqrt64 } from "../../src/machine/interp/semantics/sse-fp.js";
import { I32 } from "../../src/machine/interp/semantics/sse-lanes.js";

// ---- a CPU in 64-bit mode with flat memory ------------------------------------------------------

const RAM = 1 << 20;

function makeCpu(): Cpu {
  const cpu = new Cpu(new PhysicalMemory(RAM), new PortBus());
  cpu.mode = 64;
  cpu.cr4 |= CR4_OSFXSR;
  return cpu;
}

function bytesOf(text: string): Uint8Array {
  return Uint8Array.from(text.trim().split(/\s+/).map((b) => parseInt(b, 16)));
}

function decodeHex(text: string, mode: 64 | 32 = 64): Instruction {
  const ins = decode(bytesOf(text), 0, mode);
  expect(ins.status, text).toBe(DecodeStatus.Ok);
  return ins;
}

/** Runs the instruction's semantics the way the interpreter does (cpu.ea computed first). */
function execute(cpu: Cpu, ins: Instruction): void {
  const semantic = SSE[ins.mnemonic];
  if (semantic === undefined) throw new Error(`no SSE semantics for ${ins.mnemonic}`);
  cpu.nextRip = ins.length;
  if (ins.mod !== 3) cpu.ea = modrmAddress(cpu, ins, cpu.nextRip);
  semantic(cpu, ins);
}

function setXmm(cpu: Cpu, reg: number, dwords: readonly number[]): void {
  for (let i = 0; i < 4; i++) cpu.xmm[reg * 4 + i] = dwords[i] | 0;
}

function getXmm(cpu: Cpu, reg: number): number[] {
  return Array.from(cpu.xmm.subarray(reg * 4, reg * 4 + 4), (v) => v >>> 0);
}

function expectFault(action: () => void, vector: number): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(CpuException);
  expect((caught as CpuException).vector).toBe(vector);
}

// ---- seeded random values -----------------------------------------------------------------------

function makeRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0);
  };
}

const F32_SPECIAL = [
  0x00000000, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x40000000, 0x40400000, 0x40200000, 0xc0200000, 0x3f000000,
  0x00000001, 0x80000001, 0x007fffff, 0x807fffff, 0x00400000, 0x00000400, 0x00800000, 0x80800000, 0x00800001, 0x00ffffff,
  0x7f7fffff, 0xff7fffff, 0x7f000000, 0x7effffff, 0x7f800000, 0xff800000,
  0x7fc00000, 0xffc00000, 0x7fc12345, 0xffd00001, 0x7f800001, 0xff800001, 0x7fa00000, 0x7fbfffff,
  0x4b000000, 0x4b7fffff, 0x4b800000, 0x4b800001, 0x5f000000, 0xdf000000, 0x5effffff, 0xdf000001, 0x4f000000,
  0xcf000000, 0x4effffff, 0xcf000001, 0x3effffff, 0x3f800001, 0x3f7fffff, 0x33800000, 0x34000000, 0x0d800000,
  0x01000000, 0x1f800000, 0x5f800000, 0x3fffffff, 0x4f800000, 0xcf800000,
];

const F64_SPECIAL: Array<[number, number]> = [
  [0, 0], [0, 0x80000000], [0, 0x3ff00000], [0, 0xbff00000], [0, 0x3ff80000], [0, 0x40000000], [0, 0x40040000], [0, 0xc0040000],
  [1, 0], [1, 0x80000000], [0xffffffff, 0x000fffff], [0xffffffff, 0x800fffff], [0, 0x00080000], [0, 0x00100000], [0, 0x80100000],
  [1, 0x00100000], [0xffffffff, 0x001fffff], [0xffffffff, 0x7fefffff], [0xffffffff, 0xffefffff], [0, 0x7fe00000], [0, 0x7ff00000],
  [0, 0xfff00000], [0, 0x7ff80000], [0, 0xfff80000], [0x12345678, 0x7ff80000], [1, 0x7ff00000], [0, 0x7ff40000],
  [0xffffffff, 0xfff7ffff], [0, 0x43300000], [0, 0x43400000], [0, 0x43e00000], [0, 0xc3e00000], [0xffffffff, 0x43dfffff],
  [1, 0xc3e00000], [0, 0x41e00000], [0, 0xc1e00000], [0xffc00000, 0x41dfffff], [0x00200000, 0xc1e00000], [0, 0x3ca00000],
  [0, 0x47e00000], [0xe0000000, 0x47efffff], [0xf0000000, 0x47efffff], [0, 0x36a00000], [0, 0x38100000], [0x10000000, 0x38100000],
  [0x10000000, 0x3ff00000], [0x20000000, 0x3ff00000], [0x30000000, 0x3ff00000], [0x0fffffff, 0x3ff00000], [0, 0x369fffff], [0, 0x36900000],
];

function f32Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  return view.getUint32(0, true);
}

function f64Bits(value: number): [number, number] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value, true);
  return [view.getUint32(0, true), view.getUint32(4, true)];
}

/** A binary32 bit pattern, biased toward edges; `other` (if given) may be perturbed instead. */
function randomF32(random: () => number, other?: number): number {
  const choice = random() % 100;
  const sign = (random() & 1) << 31;
  if (choice < 20) return F32_SPECIAL[random() % F32_SPECIAL.length];
  if (choice < 42) return random();
  if (choice < 60) return (sign | ((110 + (random() % 36)) << 23) | (random() & 0x7fffff)) >>> 0;
  if (choice < 68) return (sign | ((random() % 30) << 23) | (random() & 0x7fffff)) >>> 0;
  if (choice < 73) return (sign | ((220 + (random() % 35)) << 23) | (random() & 0x7fffff)) >>> 0;
  if (choice < 80) {
    // integer-ish values for conversions: n, n + 1/2, n + 1/4...
    const magnitude = 2 ** (random() % 66) * (1 + (random() % 1000) / 1000);
    const fractions = [0, 0.5, 0.25, 0.75, 1 / 1024];
    return f32Bits((random() & 1 ? -1 : 1) * (Math.floor(magnitude) + fractions[random() % fractions.length]));
  }
  if (other === undefined) return random();
  switch (random() % 6) {
    case 0: return (other ^ 0x80000000) >>> 0;
    case 1: return (other + (random() % 5) - 2) >>> 0;
    case 2: return (((other ^ 0x80000000) + (random() % 3) - 1) >>> 0);
    case 3: return ((other & 0x807fffff) | ((((other >>> 23) & 0xff) + (random() % 60) - 30) & 0xff) << 23) >>> 0;
    case 4: return ((other & 0xff800000) | (random() & 0x7fffff)) >>> 0;
    default: return ((other & 0x807fffff) | ((((other >>> 23) & 0xff) - 24 - (random() % 4)) & 0xff) << 23) >>> 0;
  }
}

function randomF64(random: () => number, other?: [number, number]): [number, number] {
  const choice = random() % 100;
  const sign = (random() & 1) << 31;
  const frac = () => [random(), random() & 0xfffff] as const;
  if (choice < 20) return F64_SPECIAL[random() % F64_SPECIAL.length];
  if (choice < 40) return [random(), random()];
  if (choice < 56) { const [lo, hi] = frac(); return [lo, (sign | ((1000 + (random() % 48)) << 20) | hi) >>> 0]; }
  if (choice < 63) { const [lo, hi] = frac(); return [lo, (sign | ((random() % 70) << 20) | hi) >>> 0]; }
  if (choice < 67) { const [lo, hi] = frac(); return [lo, (sign | ((1990 + (random() % 57)) << 20) | hi) >>> 0]; }
  if (choice < 75) {
    const magnitude = 2 ** (random() % 66) * (1 + (random() % 1000) / 1000);
    const fractions = [0, 0.5, 0.25, 0.75, 1 / 1024];
    return f64Bits((random() & 1 ? -1 : 1) * (Math.floor(magnitude) + fractions[random() % fractions.length]));
  }
  if (choice < 85) {
    // near a binary32 value: float-representable, or halfway between two floats, or just off it
    const [lo, hi] = f64Bits(new Float32Array([new Float32Array(new Uint32Array([randomF32(random)]).buffer)[0]])[0]);
    const tails = [0, 0x10000000, 0x10000001, 0x0fffffff, random() & 0x1fffffff];
    return [((lo & ~0x1fffffff) | tails[random() % tails.length]) >>> 0, hi];
  }
  if (other === undefined) return [random(), random()];
  const [olo, ohi] = other;
  switch (random() % 5) {
    case 0: return [olo, (ohi ^ 0x80000000) >>> 0];
    case 1: return [(olo + (random() % 5) - 2) >>> 0, ohi];
    case 2: return [olo, ((ohi & 0x800fffff) | ((((ohi >>> 20) & 0x7ff) + (random() % 120) - 60) & 0x7ff) << 20) >>> 0];
    case 3: return [random(), ((ohi & 0xfff00000) | (random() & 0xfffff)) >>> 0];
    default: return [olo, ((ohi & 0x800fffff) | ((((ohi >>> 20) & 0x7ff) - 53 - (random() % 4)) & 0x7ff) << 20) >>> 0];
  }
}

function randomInt32(random: () => number): number {
  const choice = random() % 10;
  const edges = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x01000001, 0x00ffffff];
  if (choice < 3) return edges[random() % edges.length];
  if (choice < 5) {
    // bytes/words from an edge set
    let value = 0;
    for (let i = 0; i < 4; i++) value |= [0, 0x7f, 0x80, 0xff, 0x01, 0xfe][random() % 6] << (8 * i);
    return value >>> 0;
  }
  return random();
}

// ---- MXCSR variants -----------------------------------------------------------------------------

function randomMxcsr(random: () => number): number {
  const rc = random() & 3;
  const dazFtz = random() & 3;
  const flagChoice = random() % 4;
  const flags = flagChoice === 0 ? 0 : flagChoice === 1 ? 0x20 : flagChoice === 2 ? random() & 0x3f : 0;
  return (0x1f80 | (rc << 13) | (dazFtz & 1 ? 0x40 : 0) | (dazFtz & 2 ? 0x8000 : 0) | flags) >>> 0;
}

// ---- host harness -------------------------------------------------------------------------------

interface HostOp {
  /** AT&T assembly with single % (or ".byte ..."), operating on xmm0 (dest), xmm1 (source), rax */
  asm: string;
  /** input generators */
  kind: "ps" | "pd" | "ss" | "sd" | "int" | "si32" | "si64";
}

interface Vector {
  op: number;
  mxcsr: number;
  a: number[];
  b: number[];
  g: [number, number];
  rflags: number;
}

interface Outcome {
  r: number[];
  mxcsr: number;
  g: [number, number];
  rflags: number;
}

const HOST_OPS: HostOp[] = [];
function hostOp(asm: string, kind: HostOp["kind"]): void {
  HOST_OPS.push({ asm, kind });
}
for (const stem of ["add", "sub", "mul", "div", "min", "max", "sqrt"]) {
  for (const type of ["ps", "pd", "ss", "sd"] as const) hostOp(`${stem}${type} %xmm1, %xmm0`, type);
}
for (let imm = 0; imm < 8; imm++) {
  for (const type of ["ps", "pd", "ss", "sd"] as const) hostOp(`cmp${type} $${imm}, %xmm1, %xmm0`, type);
}
// imm8 >= 8 in the legacy encodings (gas would refuse them: raw bytes)
for (const imm of [0x08, 0x0d, 0x13, 0xff]) {
  hostOp(`.byte 0x0f, 0xc2, 0xc1, ${imm}`, "ps");
  hostOp(`.byte 0x66, 0x0f, 0xc2, 0xc1, ${imm}`, "pd");
  hostOp(`.byte 0xf3, 0x0f, 0xc2, 0xc1, ${imm}`, "ss");
  hostOp(`.byte 0xf2, 0x0f, 0xc2, 0xc1, ${imm}`, "sd");
}
for (const name of ["comiss", "ucomiss"]) hostOp(`${name} %xmm1, %xmm0`, "ss");
for (const name of ["comisd", "ucomisd"]) hostOp(`${name} %xmm1, %xmm0`, "sd");
hostOp("cvtss2sd %xmm1, %xmm0", "ss");
hostOp("cvtsd2ss %xmm1, %xmm0", "sd");
hostOp("cvtps2pd %xmm1, %xmm0", "ps");
hostOp("cvtpd2ps %xmm1, %xmm0", "pd");
hostOp("cvtdq2ps %xmm1, %xmm0", "int");
hostOp("cvtdq2pd %xmm1, %xmm0", "int");
hostOp("cvtps2dq %xmm1, %xmm0", "ps");
hostOp("cvttps2dq %xmm1, %xmm0", "ps");
hostOp("cvtpd2dq %xmm1, %xmm0", "pd");
hostOp("cvttpd2dq %xmm1, %xmm0", "pd");
for (const name of ["cvtss2si", "cvttss2si"]) { hostOp(`${name} %xmm1, %eax`, "ss"); hostOp(`${name} %xmm1, %rax`, "ss"); }
for (const name of ["cvtsd2si", "cvttsd2si"]) { hostOp(`${name} %xmm1, %eax`, "sd"); hostOp(`${name} %xmm1, %rax`, "sd"); }
hostOp("cvtsi2ssl %eax, %xmm0", "si32");
hostOp("cvtsi2ssq %rax, %xmm0", "si64");
hostOp("cvtsi2sdl %eax, %xmm0", "si32");
hostOp("cvtsi2sdq %rax, %xmm0", "si64");
const HOST_FP_OPS = HOST_OPS.length;
// Packed integers, logic, shuffles and moves (bit-exact too, a few hundred vectors each).
for (const name of [
  "paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "paddsb", "paddsw", "paddusb", "paddusw", "psubsb",
  "psubsw", "psubusb", "psubusw", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd", "psadbw", "pavgb", "pavgw", "pminub",
  "pmaxub", "pminsw", "pmaxsw", "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd", "pand", "pandn", "por",
  "pxor", "packsswb", "packuswb", "packssdw", "punpcklbw", "punpckhbw", "punpcklwd", "punpckhwd", "punpckldq", "punpckhdq",
  "punpcklqdq", "punpckhqdq", "psrlw", "psraw", "psllw", "psrld", "psrad", "pslld", "psrlq", "psllq",
  "andps", "andpd", "andnps", "andnpd", "orps", "orpd", "xorps", "xorpd", "unpcklps", "unpckhps", "unpcklpd", "unpckhpd",
  "movaps", "movapd", "movups", "movupd", "movdqa", "movdqu", "movss", "movsd", "movhlps", "movlhps", "movq",
]) hostOp(`${name} %xmm1, %xmm0`, "int");
// store-direction register forms: movss/movsd 11 /r, movq 66 0F D6, movaps 29 /r (xmm0 <- xmm1)
hostOp(".byte 0xf3, 0x0f, 0x11, 0xc8", "int");
hostOp(".byte 0xf2, 0x0f, 0x11, 0xc8", "int");
hostOp(".byte 0x66, 0x0f, 0xd6, 0xc8", "int");
hostOp(".byte 0x0f, 0x29, 0xc8", "int");
hostOp(".byte 0xf3, 0x0f, 0x7f, 0xc8", "int");
for (const name of ["psrlw", "psraw", "psllw", "psrld", "psrad", "pslld", "psrlq", "psllq", "psrldq", "pslldq"]) {
  for (const count of [0, 1, 7, 8, 15, 16, 31, 32, 33, 63, 64, 200]) hostOp(`${name} $${count}, %xmm0`, "int");
}
for (const imm of [0x00, 0x1b, 0xe4, 0x4e, 0xb1, 0xff, 0x93, 0x02]) {
  for (const name of ["shufps", "shufpd", "pshufd", "pshuflw", "pshufhw"]) hostOp(`${name} $${imm}, %xmm1, %xmm0`, "int");
}
for (let word = 0; word < 8; word++) {
  hostOp(`pinsrw $${word}, %eax, %xmm0`, "int");
  hostOp(`pextrw $${word}, %xmm1, %eax`, "int");
}
hostOp("pinsrw $9, %eax, %xmm0", "int");
hostOp("pextrw $13, %xmm1, %rax", "int");
for (const name of ["pmovmskb", "movmskps", "movmskpd"]) { hostOp(`${name} %xmm1, %eax`, "int"); hostOp(`${name} %xmm1, %rax`, "int"); }
hostOp("movd %eax, %xmm0", "int");
hostOp("movq %rax, %xmm0", "int");
hostOp("movd %xmm1, %eax", "int");
hostOp("movq %xmm1, %rax", "int");

function cSource(): string {
  const lines: string[] = [];
  lines.push("#include <stdio.h>", "#include <stdint.h>", "#include <string.h>", "#include <stdlib.h>");
  lines.push("typedef struct { uint32_t a[4], b[4], r[4]; uint64_t g, go, fl, flo; uint32_t mx, mxo; } St;");
  lines.push("static uint32_t dflt = 0x1f80;");
  const escape = (asm: string) => asm.replace(/%/g, "%%");
  lines.push("static void run(int op, St *s) {", "  switch (op) {");
  HOST_OPS.forEach((op, index) => {
    lines.push(`  case ${index}: __asm__ volatile(`
      + `"ldmxcsr %[mx]\\n\\tmovdqu %[a], %%xmm0\\n\\tmovdqu %[b], %%xmm1\\n\\tmov %[g], %%rax\\n\\tpush %[fl]\\n\\tpopfq\\n\\t"`
      + `"${escape(op.asm)}\\n\\t"`
      + `"pushfq\\n\\tpop %[flo]\\n\\tmovdqu %%xmm0, %[r]\\n\\tmov %%rax, %[go]\\n\\tstmxcsr %[mxo]\\n\\tldmxcsr %[dflt]"`
      + ` : [flo] "=&r"(s->flo), [go] "=&r"(s->go), [mxo] "=m"(s->mxo), [r] "=m"(s->r)`
      + ` : [mx] "m"(s->mx), [a] "m"(s->a), [b] "m"(s->b), [g] "r"(s->g), [fl] "r"(s->fl), [dflt] "m"(dflt)`
      + ` : "rax", "xmm0", "xmm1", "memory", "cc"); break;`);
  });
  lines.push("  }", "}");
  lines.push("__asm__(\".pushsection .rodata\\n\"");
  HOST_OPS.forEach((op, index) => lines.push(`  "insn${index}_start:\\n${op.asm}\\ninsn${index}_end:\\n"`));
  lines.push("  \".popsection\\n\");");
  HOST_OPS.forEach((_, index) => lines.push(`extern const unsigned char insn${index}_start[], insn${index}_end[];`));
  lines.push("static const unsigned char *starts[] = {" + HOST_OPS.map((_, i) => `insn${i}_start`).join(",") + "};");
  lines.push("static const unsigned char *ends[] = {" + HOST_OPS.map((_, i) => `insn${i}_end`).join(",") + "};");
  lines.push(`
int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "bytes") == 0) {
    for (int i = 0; i < ${HOST_OPS.length}; i++) {
      for (const unsigned char *p = starts[i]; p < ends[i]; p++) printf("%02x ", *p);
      printf("\\n");
    }
    return 0;
  }
  St s;
  int op;
  while (scanf("%d %x %x %x %x %x %x %x %x %x %llx %llx", &op, &s.mx, &s.a[0], &s.a[1], &s.a[2], &s.a[3],
               &s.b[0], &s.b[1], &s.b[2], &s.b[3], (unsigned long long *)&s.g, (unsigned long long *)&s.fl) == 12) {
    run(op, &s);
    printf("%08x %08x %08x %08x %08x %016llx %llx\\n", s.r[0], s.r[1], s.r[2], s.r[3], s.mxo,
           (unsigned long long)s.go, (unsigned long long)s.flo);
  }
  return 0;
}`);
  return lines.join("\n");
}

function hasGcc(): boolean {
  if (process.arch !== "x64") return false;
  try {
    execFileSync("gcc", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const HOST = hasGcc();
let workDirectory = "";
let harness = "";
let encodings: Instruction[] = [];

function hex(value: number, digits = 8): string {
  return (value >>> 0).toString(16).padStart(digits, "0");
}

function runHost(vectors: readonly Vector[]): Outcome[] {
  const input = vectors.map((v) =>
    [v.op, hex(v.mxcsr), ...v.a.map((x) => hex(x)), ...v.b.map((x) => hex(x)), hex(v.g[1]) + hex(v.g[0]), hex(v.rflags)].join(" "),
  ).join("\n") + "\n";
  const output = execFileSync(harness, [], { input, maxBuffer: 1 << 28 }).toString().trim().split("\n");
  return output.map((line) => {
    const fields = line.split(" ");
    const g = fields[5];
    return {
      r: fields.slice(0, 4).map((f) => parseInt(f, 16)),
      mxcsr: parseInt(fields[4], 16),
      g: [parseInt(g.slice(8), 16), parseInt(g.slice(0, 8), 16)] as [number, number],
      rflags: parseInt(fields[6], 16) & 0x8d5,
    };
  });
}

const emulatorCpu = makeCpu();

function runEmulator(vector: Vector): Outcome {
  const cpu = emulatorCpu;
  const ins = encodings[vector.op];
  cpu.xmm.fill(0);
  setXmm(cpu, 0, vector.a);
  setXmm(cpu, 1, vector.b);
  cpu.setReg64(0, vector.g[0], vector.g[1]);
  cpu.mxcsr = vector.mxcsr;
  cpu.setFlags(vector.rflags, 0x8d5);
  execute(cpu, ins);
  return { r: getXmm(cpu, 0), mxcsr: cpu.mxcsr, g: [cpu.regs[0] >>> 0, cpu.regs[1] >>> 0], rflags: cpu.getFlags() & 0x8d5 };
}

function vectorsFor(op: number, count: number, random: () => number): Vector[] {
  const kind = HOST_OPS[op].kind;
  const vectors: Vector[] = [];
  for (let n = 0; n < count; n++) {
    let a: number[], b: number[];
    if (kind === "ps" || kind === "ss") {
      b = [0, 0, 0, 0].map(() => randomF32(random));
      a = b.map((other) => randomF32(random, other));
      if (kind === "ss") { a[1] = random(); a[2] = random(); a[3] = random(); }
    } else if (kind === "pd" || kind === "sd") {
      const b0 = randomF64(random), b1 = randomF64(random);
      const a0 = randomF64(random, b0), a1 = randomF64(random, b1);
      b = [...b0, ...b1];
      a = kind === "sd" ? [...a0, random(), random()] : [...a0, ...a1];
    } else {
      a = [0, 0, 0, 0].map(() => randomInt32(random));
      b = [0, 0, 0, 0].map(() => randomInt32(random));
      if (random() % 4 === 0) { b[1] = 0; b[0] = random() % 80; } // in-range shift counts
    }
    let g: [number, number] = [random(), random()];
    if (kind === "si32" || kind === "si64") {
      const edges: Array<[number, number]> = [[0, 0], [1, 0], [0xffffffff, 0xffffffff], [0x7fffffff, 0], [0x80000000, 0xffffffff],
        [0x01000001, 0], [0xffffffff, 0x7fffffff], [0, 0x80000000], [1, 0x80000000], [0x00000401, 0x00200000], [0x00000400, 0x00200000],
        [0x00000c00, 0x00200000], [0xfffff800, 0x7fffffff], [0x80000000, 0x00000000], [0x40000000, 0x00000001],
        // double rounding traps: 2^62 + 2^38 + 1 is just above a binary32 midpoint that binary64 cannot see
        [1, 0x40000040], [0xffffffff, 0xbfffffbf], [0, 0x40000040], [0x201, 0x40000000], [0x200, 0x40000000], [0x600, 0x40000000],
        [0x00000001, 0x00800000], [0x10000001, 0x00000000], [0x10000000, 0x00000001]];
      const choice = random() % 4;
      if (choice === 0) g = edges[random() % edges.length];
      else if (choice === 1) g = [random(), random() >>> (random() % 32)];
      else if (choice === 2) g = [(random() & ~0xff) | [0x80, 0x40, 0xc0, 0x81, 0][random() % 5], random() >> (random() % 32)];
      if (kind === "si32" && random() % 2) g = [(random() >> (random() % 32)) >>> 0, g[1]];
    }
    vectors.push({ op, mxcsr: randomMxcsr(random), a, b, g, rflags: (random() & 0x8d5) | 2 });
  }
  return vectors;
}

function describeVector(v: Vector): string {
  return `${HOST_OPS[v.op].asm} mxcsr=${hex(v.mxcsr, 4)} a=[${v.a.map((x) => hex(x)).join(" ")}] b=[${v.b.map((x) => hex(x)).join(" ")}] rax=${hex(v.g[1])}${hex(v.g[0])}`;
}

function outcomeText(o: Outcome): string {
  return `r=[${o.r.map((x) => hex(x)).join(" ")}] mxcsr=${hex(o.mxcsr, 4)} rax=${hex(o.g[1])}${hex(o.g[0])} flags=${hex(o.rflags, 3)}`;
}

function compareWithHost(vectors: readonly Vector[]): string[] {
  const expected = runHost(vectors);
  const mismatches: string[] = [];
  vectors.forEach((vector, index) => {
    let actual: Outcome;
    try {
      actual = runEmulator(vector);
    } catch (error) {
      mismatches.push(`${describeVector(vector)}: threw ${String(error)}`);
      return;
    }
    const want = expected[index];
    if (outcomeText(actual) !== outcomeText(want)) {
      mismatches.push(`${describeVector(vector)}\n    host ${outcomeText(want)}\n    emu  ${outcomeText(actual)}`);
    }
  });
  return mismatches;
}

describe.skipIf(!HOST)("SSE against the host CPU", () => {
  beforeAll(() => {
    workDirectory = mkdtempSync(join(tmpdir(), "sse-host-"));
    const source = join(workDirectory, "harness.c");
    harness = join(workDirectory, "harness");
    writeFileSync(source, cSource());
    execFileSync("gcc", ["-O1", "-mno-red-zone", "-o", harness, source]);
    const lines = execFileSync(harness, ["bytes"]).toString().trim().split("\n");
    encodings = lines.map((line, index) => {
      const ins = decode(bytesOf(line), 0, 64);
      if (ins.status !== DecodeStatus.Ok) throw new Error(`${HOST_OPS[index].asm}: decoder status ${ins.status}`);
      return ins;
    });
  });
  afterAll(() => {
    if (workDirectory) rmSync(workDirectory, { recursive: true, force: true });
  });

  const FP_VECTORS = Number(process.env.SSE_HOST_VECTORS ?? 1500);

  it("floating point: results, MXCSR flags and RFLAGS are bit-exact", () => {
    const random = makeRandom(0x5eed);
    const vectors: Vector[] = [];
    for (let op = 0; op < HOST_FP_OPS; op++) vectors.push(...vectorsFor(op, FP_VECTORS, random));
    const mismatches = compareWithHost(vectors);
    expect(mismatches.slice(0, Number(process.env.SSE_SHOW ?? 12)).join("\n"), `${mismatches.length} of ${vectors.length} differ`).toBe("");
  });

  it("every FP operation on every pair of edge values, in every rounding mode with DAZ/FTZ", () => {
    const vectors: Vector[] = [];
    for (let op = 0; op < HOST_FP_OPS; op++) {
      const kind = HOST_OPS[op].kind;
      if (kind === "si32" || kind === "si64") continue;
      for (const mode of [0x1f80, 0x3f80, 0x5f80, 0x7f80, 0x1fc0, 0x9f80, 0xdfc0, 0x1fa0]) {
        if (kind === "ps" || kind === "ss" || kind === "int") {
          for (let i = 0; i < F32_SPECIAL.length; i++) {
            for (let j = 0; j < F32_SPECIAL.length; j += 4) {
              const b = [F32_SPECIAL[j], F32_SPECIAL[(j + 1) % F32_SPECIAL.length], F32_SPECIAL[(j + 2) % F32_SPECIAL.length], F32_SPECIAL[(j + 3) % F32_SPECIAL.length]];
              vectors.push({ op, mxcsr: mode, a: [F32_SPECIAL[i], F32_SPECIAL[i], F32_SPECIAL[i], F32_SPECIAL[i]], b, g: [0, 0], rflags: 2 });
            }
          }
        } else {
          for (let i = 0; i < F64_SPECIAL.length; i++) {
            for (let j = 0; j < F64_SPECIAL.length; j += 2) {
              const b = [...F64_SPECIAL[j], ...F64_SPECIAL[(j + 1) % F64_SPECIAL.length]];
              vectors.push({ op, mxcsr: mode, a: [...F64_SPECIAL[i], ...F64_SPECIAL[i]], b, g: [0, 0], rflags: 2 });
            }
          }
        }
      }
    }
    const mismatches = compareWithHost(vectors);
    expect(mismatches.slice(0, Number(process.env.SSE_SHOW ?? 12)).join("\n"), `${mismatches.length} of ${vectors.length} differ`).toBe("");
  });

  it("packed integers, logic, shuffles, inserts/extracts and register moves are bit-exact", () => {
    const random = makeRandom(0x1234);
    const vectors: Vector[] = [];
    for (let op = HOST_FP_OPS; op < HOST_OPS.length; op++) vectors.push(...vectorsFor(op, 300, random));
    const mismatches = compareWithHost(vectors);
    expect(mismatches.slice(0, Number(process.env.SSE_SHOW ?? 12)).join("\n"), `${mismatches.length} of ${vectors.length} differ`).toBe("");
  });
});

// ---- fast paths against the exact reference --------------------------------------------------------

describe("fast paths agree with the exact BigInt reference", () => {
  const N = 20000;
  type Op32 = [string, (i: number) => void, (a: bigint, b: bigint) => bigint];
  const ops32: Op32[] = [
    ["add", (i) => addSub32(i, false), (a, b) => softAdd(BINARY32, a, b, false)],
    ["sub", (i) => addSub32(i, true), (a, b) => softAdd(BINARY32, a, b, true)],
    ["mul", mul32, (a, b) => softMul(BINARY32, a, b)],
    ["div", div32, (a, b) => softDiv(BINARY32, a, b)],
    ["sqrt", sqrt32, (_a, b) => softSqrt(BINARY32, b)],
  ];
  for (const [name, fast, exact] of ops32) {
    it(`binary32 ${name}`, () => {
      const random = makeRandom(name.length * 77);
      const failures: string[] = [];
      for (let n = 0; n < N; n++) {
        const b = randomF32(random), a = randomF32(random, b);
        const mxcsr = randomMxcsr(random);
        I32[0] = a; I32[4] = b;
        beginFp(mxcsr);
        fast(0);
        const fastResult = I32[8] >>> 0, fastFlags = (fpEnv.flags | mxcsr) & 0x3f;
        beginFp(mxcsr);
        const exactResult = lowWord(exact(bits32(a), bits32(b))) >>> 0, exactFlags = (fpEnv.flags | mxcsr) & 0x3f;
        if (fastResult !== exactResult || fastFlags !== exactFlags) {
          failures.push(`${name} ${hex(a)} ${hex(b)} mxcsr=${hex(mxcsr, 4)}: fast ${hex(fastResult)}/${fastFlags} exact ${hex(exactResult)}/${exactFlags}`);
        }
      }
      expect(failures.slice(0, 10).join("\n")).toBe("");
    });
  }
  type Op64 = [string, (i: number) => void, (a: bigint, b: bigint) => bigint];
  const ops64: Op64[] = [
    ["add", (i) => addSub64(i, false), (a, b) => softAdd(BINARY64, a, b, false)],
    ["sub", (i) => addSub64(i, true), (a, b) => softAdd(BINARY64, a, b, true)],
    ["mul", mul64, (a, b) => softMul(BINARY64, a, b)],
    ["div", div64, (a, b) => softDiv(BINARY64, a, b)],
    ["sqrt", sqrt64, (_a, b) => softSqrt(BINARY64, b)],
  ];
  for (const [name, fast, exact] of ops64) {
    it(`binary64 ${name}`, () => {
      const random = makeRandom(name.length * 91);
      const failures: string[] = [];
      for (let n = 0; n < N; n++) {
        const b = randomF64(random), a = randomF64(random, b);
        const mxcsr = randomMxcsr(random);
        I32[0] = a[0]; I32[1] = a[1]; I32[4] = b[0]; I32[5] = b[1];
        beginFp(mxcsr);
        fast(0);
        const fastResult = hex(I32[9]) + hex(I32[8]), fastFlags = (fpEnv.flags | mxcsr) & 0x3f;
        beginFp(mxcsr);
        const bits = exact(bits64(a[0], a[1]), bits64(b[0], b[1]));
        const exactResult = hex(highWord(bits)) + hex(lowWord(bits)), exactFlags = (fpEnv.flags | mxcsr) & 0x3f;
        if (fastResult !== exactResult || fastFlags !== exactFlags) {
          failures.push(`${name} ${hex(a[1])}${hex(a[0])} ${hex(b[1])}${hex(b[0])} mxcsr=${hex(mxcsr, 4)}: fast ${fastResult}/${fastFlags} exact ${exactResult}/${exactFlags}`);
        }
      }
      expect(failures.slice(0, 10).join("\n")).toBe("");
    });
  }
});

// ---- the table covers the decoder ---------------------------------------------------------------

describe("coverage", () => {
  it("every supported SSE/SSE2 row has semantics", () => {
    const sseMethods = new Set([M_V, M_W, M_U, M_MASKMOV]);
    const extra = new Set(["ldmxcsr", "stmxcsr", "fxsave", "fxrstor", "fxsave64", "fxrstor64", "movnti"]);
    const missing: string[] = [];
    let rows = 0;
    for (const row of OPCODE_TABLE) {
      if (row.attributes & A_UNSUPPORTED) continue;
      if (!row.operands.some((o) => sseMethods.has(o.method)) && !extra.has(row.mnemonics[0])) continue;
      rows++;
      for (const mnemonic of row.mnemonics) if (mnemonic && SSE[mnemonic] === undefined) missing.push(`${row.source}: ${mnemonic}`);
    }
    expect(missing).toEqual([]);
    expect(rows).toBeGreaterThan(150);
  });
});

// ---- memory forms, alignment, exceptions -----------------------------------------------------------

describe("memory operands and alignment", () => {
  const BASE = 0x10000; // rbx points here

  function withMemory(): Cpu {
    const cpu = makeCpu();
    cpu.setReg64(3, BASE, 0);
    for (let i = 0; i < 64; i++) cpu.write(BASE + 4 * i, 4, 0x11111111 * ((i % 15) + 1), 0);
    return cpu;
  }

  it("MOVAPS/MOVDQA/ADDPS m128 need 16-byte alignment; MOVUPS/MOVDQU and scalar forms do not", () => {
    const cpu = withMemory();
    execute(cpu, decodeHex("0f 28 03")); // movaps xmm0, [rbx]
    expect(getXmm(cpu, 0)).toEqual([0x11111111, 0x22222222, 0x33333333, 0x44444444]);
    expectFault(() => execute(cpu, decodeHex("0f 28 43 04")), VEC_GP); // movaps xmm0, [rbx+4]
    expectFault(() => execute(cpu, decodeHex("66 0f 6f 43 08")), VEC_GP); // movdqa
    expectFault(() => execute(cpu, decodeHex("0f 58 43 01")), VEC_GP); // addps xmm0, [rbx+1]
    expectFault(() => execute(cpu, decodeHex("66 0f ef 43 02")), VEC_GP); // pxor xmm0, [rbx+2]
    expectFault(() => execute(cpu, decodeHex("66 0f d1 43 02")), VEC_GP); // psrlw xmm0, [rbx+2]
    expectFault(() => execute(cpu, decodeHex("0f 29 43 04")), VEC_GP); // movaps [rbx+4], xmm0
    expectFault(() => execute(cpu, decodeHex("0f 2b 43 04")), VEC_GP); // movntps [rbx+4], xmm0
    execute(cpu, decodeHex("0f 10 43 04")); // movups xmm0, [rbx+4]
    expect(getXmm(cpu, 0)).toEqual([0x22222222, 0x33333333, 0x44444444, 0x55555555]);
    execute(cpu, decodeHex("f3 0f 6f 4b 08")); // movdqu xmm1, [rbx+8]
    expect(getXmm(cpu, 1)).toEqual([0x33333333, 0x44444444, 0x55555555, 0x66666666]);
    execute(cpu, decodeHex("f3 0f 58 43 03")); // addss xmm0, [rbx+3]: no alignment needed
    execute(cpu, decodeHex("0f 5a 43 04")); // cvtps2pd xmm0, [rbx+4] (m64)
  });

  it("MOVUPS/MOVDQU stores, unaligned and page-crossing", () => {
    const cpu = withMemory();
    setXmm(cpu, 2, [0x03020100, 0x07060504, 0x0b0a0908, 0x0f0e0d0c]);
    cpu.setReg64(3, 0x1ff9, 0);
    execute(cpu, decodeHex("0f 11 13")); // movups [rbx], xmm2
    for (let i = 0; i < 16; i++) expect(cpu.read(0x1ff9 + i, 1)).toBe(i);
    cpu.setReg64(3, 0x3003, 0);
    execute(cpu, decodeHex("f3 0f 7f 13")); // movdqu [rbx], xmm2
    expect(cpu.read(0x3003, 4) >>> 0).toBe(0x03020100);
    expect(cpu.read(0x300f, 4) >>> 0).toBe(0x0f0e0d0c);
  });

  it("MOVSS/MOVSD: a load from memory zeros the rest, register to register keeps it; stores write 4/8 bytes", () => {
    const cpu = withMemory();
    setXmm(cpu, 0, [0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd]);
    execute(cpu, decodeHex("f3 0f 10 03")); // movss xmm0, [rbx]
    expect(getXmm(cpu, 0)).toEqual([0x11111111, 0, 0, 0]);
    setXmm(cpu, 0, [0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd]);
    execute(cpu, decodeHex("f2 0f 10 03")); // movsd xmm0, [rbx]
    expect(getXmm(cpu, 0)).toEqual([0x11111111, 0x22222222, 0, 0]);
    setXmm(cpu, 1, [1, 2, 3, 4]);
    setXmm(cpu, 0, [0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd]);
    execute(cpu, decodeHex("f3 0f 10 c1")); // movss xmm0, xmm1
    expect(getXmm(cpu, 0)).toEqual([1, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd]);
    execute(cpu, decodeHex("f2 0f 11 4b 10")); // movsd [rbx+16], xmm1
    expect([cpu.read(BASE + 16, 4), cpu.read(BASE + 20, 4), cpu.read(BASE + 24, 4) >>> 0]).toEqual([1, 2, 0x77777777]);
    execute(cpu, decodeHex("f3 0f 11 4b 20")); // movss [rbx+32], xmm1
    expect([cpu.read(BASE + 32, 4), cpu.read(BASE + 36, 4) >>> 0]).toEqual([1, 0xaaaaaaaa]);
  });

  it("MOVLPS/MOVHPS/MOVLPD/MOVHPD move one quadword; MOVQ/MOVD zero the rest of the register", () => {
    const cpu = withMemory();
    setXmm(cpu, 0, [0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd]);
    execute(cpu, decodeHex("0f 16 43 08")); // movhps xmm0, [rbx+8]
    expect(getXmm(cpu, 0)).toEqual([0xaaaaaaaa, 0xbbbbbbbb, 0x33333333, 0x44444444]);
    execute(cpu, decodeHex("66 0f 12 43 10")); // movlpd xmm0, [rbx+16]
    expect(getXmm(cpu, 0)).toEqual([0x55555555, 0x66666666, 0x33333333, 0x44444444]);
    execute(cpu, decodeHex("0f 17 43 40")); // movhps [rbx+64], xmm0
    expect([cpu.read(BASE + 64, 4) >>> 0, cpu.read(BASE + 68, 4) >>> 0]).toEqual([0x33333333, 0x44444444]);
    execute(cpu, decodeHex("66 0f 13 43 48")); // movlpd [rbx+72], xmm0
    expect([cpu.read(BASE + 72, 4) >>> 0, cpu.read(BASE + 76, 4) >>> 0]).toEqual([0x55555555, 0x66666666]);
    execute(cpu, decodeHex("f3 0f 7e 43 04")); // movq xmm0, [rbx+4]
    expect(getXmm(cpu, 0)).toEqual([0x22222222, 0x33333333, 0, 0]);
    setXmm(cpu, 0, [0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd]);
    execute(cpu, decodeHex("66 0f 6e 43 08")); // movd xmm0, [rbx+8]
    expect(getXmm(cpu, 0)).toEqual([0x33333333, 0, 0, 0]);
    setXmm(cpu, 0, [0xaaaaaaaa, 0xbbbbbbbb, 0xcccccccc, 0xdddddddd]);
    execute(cpu, decodeHex("66 48 0f 6e 43 08")); // movq xmm0, [rbx+8]
    expect(getXmm(cpu, 0)).toEqual([0x33333333, 0x44444444, 0, 0]);
    execute(cpu, decodeHex("66 0f d6 43 50")); // movq [rbx+80], xmm0
    expect([cpu.read(BASE + 80, 4) >>> 0, cpu.read(BASE + 84, 4) >>> 0, cpu.read(BASE + 88, 4) >>> 0]).toEqual([0x33333333, 0x44444444, 0x88888888]);
    execute(cpu, decodeHex("66 0f 7e 43 60")); // movd [rbx+96], xmm0
    expect([cpu.read(BASE + 96, 4) >>> 0, cpu.read(BASE + 100, 4) >>> 0]).toEqual([0x33333333, 0xbbbbbbbb]);
    cpu.setReg64(5, 0x12345678, 0x9abcdef0);
    execute(cpu, decodeHex("66 0f 7e c5")); // movd ebp, xmm0: zero-extends
    expect([cpu.regs[10] >>> 0, cpu.regs[11]]).toEqual([0x33333333, 0]);
  });

  it("CVTSI2SS/SD and PINSRW from memory; CVTSS2SI from memory; MOVNTI", () => {
    const cpu = withMemory();
    cpu.write(BASE + 0x80, 8, -5, -1);
    execute(cpu, decodeHex("f3 48 0f 2a 83 80 00 00 00")); // cvtsi2ss xmm0, qword [rbx+0x80]
    expect(getXmm(cpu, 0)[0]).toBe(0xc0a00000);
    execute(cpu, decodeHex("f2 0f 2a 8b 80 00 00 00")); // cvtsi2sd xmm1, dword [rbx+0x80]
    expect(getXmm(cpu, 1).slice(0, 2)).toEqual([0, 0xc0140000]);
    execute(cpu, decodeHex("66 0f c4 83 80 00 00 00 05")); // pinsrw xmm0, word [rbx+0x80], 5
    expect(getXmm(cpu, 0)[2] >>> 16).toBe(0xfffb);
    cpu.write(BASE + 0x90, 4, 0x40490fdb, 0); // pi
    execute(cpu, decodeHex("f3 48 0f 2d 83 90 00 00 00")); // cvtss2si rax, dword [rbx+0x90]
    expect([cpu.regs[0], cpu.regs[1]]).toEqual([3, 0]);
    cpu.setReg64(2, 0xdeadbeef, 0x01234567);
    execute(cpu, decodeHex("48 0f c3 93 a0 00 00 00")); // movnti [rbx+0xa0], rdx
    expect([cpu.read(BASE + 0xa0, 4) >>> 0, cpu.read(BASE + 0xa4, 4) >>> 0]).toEqual([0xdeadbeef, 0x01234567]);
  });

  it("MASKMOVDQU writes the selected bytes at DS:rDI (address size from 67h)", () => {
    const cpu = withMemory();
    setXmm(cpu, 1, [0x44332211, 0x88776655, 0xccbbaa99, 0x00ffeedd]);
    setXmm(cpu, 2, [0x80000080, 0, 0xff000000, 0x7f7f7f80]);
    cpu.setReg64(7, BASE + 0x100, 0);
    for (let i = 0; i < 16; i++) cpu.write(BASE + 0x100 + i, 1, 0xee, 0);
    execute(cpu, decodeHex("66 0f f7 ca")); // maskmovdqu xmm1, xmm2
    const bytes = Array.from({ length: 16 }, (_, i) => cpu.read(BASE + 0x100 + i, 1));
    expect(bytes).toEqual([0x11, 0xee, 0xee, 0x44, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xcc, 0xdd, 0xee, 0xee, 0xee]);
    cpu.setReg64(7, BASE + 0x200, 0xffffffff); // addr32: RDI's high half is ignored
    execute(cpu, decodeHex("67 66 0f f7 ca"));
    expect(cpu.read(BASE + 0x200, 1)).toBe(0x11);
  });
});

describe("exceptions", () => {
  it("an unmasked exception raises #XM (CR4.OSXMMEXCPT) or #UD, sets the flag, leaves the destination", () => {
    const cpu = makeCpu();
    setXmm(cpu, 0, [0x3f800000, 0, 0, 0]);
    setXmm(cpu, 1, [0, 0, 0, 0]);
    cpu.mxcsr = 0x1f80 & ~(1 << 9); // ZM clear
    const divss = decodeHex("f3 0f 5e c1");
    expectFault(() => execute(cpu, divss), VEC_UD);
    expect(cpu.mxcsr & 0x3f).toBe(0x04);
    expect(getXmm(cpu, 0)).toEqual([0x3f800000, 0, 0, 0]);
    cpu.cr4 |= CR4_OSXMMEXCPT;
    expectFault(() => execute(cpu, divss), VEC_XM);
    // masked: the result is written
    cpu.mxcsr = 0x1f80;
    execute(cpu, divss);
    expect(getXmm(cpu, 0)[0]).toBe(0x7f800000);
    expect(cpu.mxcsr).toBe(0x1f84);
    // COMISS with an unmasked invalid leaves RFLAGS alone
    cpu.mxcsr = 0x1f00;
    cpu.setFlags(0, 0x8d5);
    setXmm(cpu, 1, [0x7fc00000, 0, 0, 0]);
    expectFault(() => execute(cpu, decodeHex("0f 2f c1")), VEC_XM);
    expect(cpu.getFlags() & 0x8d5).toBe(0);
    expect(cpu.mxcsr & 1).toBe(1);
  });

  it("CR0.EM or CR4.OSFXSR clear: #UD; CR0.TS: #NM; FXSAVE only checks EM/TS", () => {
    const cpu = makeCpu();
    const addps = decodeHex("0f 58 c1");
    cpu.cr0 |= CR0_TS;
    expectFault(() => execute(cpu, addps), VEC_NM);
    cpu.cr0 |= CR0_EM;
    expectFault(() => execute(cpu, addps), VEC_UD);
    cpu.cr0 &= ~(CR0_EM | CR0_TS);
    cpu.cr4 &= ~CR4_OSFXSR;
    expectFault(() => execute(cpu, addps), VEC_UD);
    cpu.setReg64(3, 0x2000, 0);
    execute(cpu, decodeHex("0f ae 03")); // fxsave [rbx] works without OSFXSR
    cpu.cr0 |= CR0_TS;
    expectFault(() => execute(cpu, decodeHex("0f ae 03")), VEC_NM);
  });

  it("LDMXCSR with reserved bits: #GP(0); STMXCSR stores it", () => {
    const cpu = makeCpu();
    cpu.setReg64(3, 0x3000, 0);
    cpu.write(0x3000, 4, 0x0001ffff, 0);
    expectFault(() => execute(cpu, decodeHex("0f ae 13")), VEC_GP);
    expect(cpu.mxcsr).toBe(0x1f80);
    cpu.write(0x3000, 4, 0xffff, 0);
    execute(cpu, decodeHex("0f ae 13"));
    expect(cpu.mxcsr).toBe(0xffff);
    execute(cpu, decodeHex("0f ae 5b 04")); // stmxcsr [rbx+4]
    expect(cpu.read(0x3004, 4)).toBe(0xffff);
  });
});

describe("FXSAVE/FXRSTOR", () => {
  function filled(cpu: Cpu): void {
    for (let i = 0; i < 64; i++) cpu.xmm[i] = Math.imul(i + 1, 0x9e3779b9);
    cpu.mxcsr = 0x9fa3;
  }

  it("stores the legacy area layout (64-bit mode: XMM0-15) and restores it", () => {
    const cpu = makeCpu();
    filled(cpu);
    cpu.setReg64(3, 0x4000, 0);
    for (let i = 0; i < 512; i += 4) cpu.write(0x4000 + i, 4, 0xa5a5a5a5, 0);
    execute(cpu, decodeHex("48 0f ae 03")); // fxsave64 [rbx]
    expect(cpu.read(0x4000, 2)).toBe(0x037f);
    expect(cpu.read(0x4002, 2)).toBe(0);
    expect(cpu.read(0x4004, 1)).toBe(0);
    for (let offset = 4; offset < 24; offset += 4) expect(cpu.read(0x4000 + offset, 4)).toBe(0);
    expect(cpu.read(0x4018, 4)).toBe(0x9fa3);
    expect(cpu.read(0x401c, 4)).toBe(0xffff);
    for (let offset = 32; offset < 160; offset += 4) expect(cpu.read(0x4000 + offset, 4)).toBe(0);
    for (let i = 0; i < 64; i++) expect(cpu.read(0x4000 + 160 + 4 * i, 4) | 0).toBe(cpu.xmm[i]);
    for (let offset = 416; offset < 512; offset += 4) expect(cpu.read(0x4000 + offset, 4) >>> 0).toBe(0xa5a5a5a5);
    const saved = Array.from(cpu.xmm);
    cpu.xmm.fill(0);
    cpu.mxcsr = 0x1f80;
    execute(cpu, decodeHex("0f ae 0b")); // fxrstor [rbx]
    expect(Array.from(cpu.xmm)).toEqual(saved);
    expect(cpu.mxcsr).toBe(0x9fa3);
  });

  it("needs a 16-byte aligned area; FXRSTOR rejects reserved MXCSR bits; 32-bit mode: XMM0-7 only", () => {
    const cpu = makeCpu();
    filled(cpu);
    cpu.setReg64(3, 0x4008, 0);
    expectFault(() => execute(cpu, decodeHex("0f ae 03")), VEC_GP);
    expectFault(() => execute(cpu, decodeHex("0f ae 0b")), VEC_GP);
    cpu.setReg64(3, 0x4000, 0);
    execute(cpu, decodeHex("0f ae 03"));
    cpu.write(0x4018, 4, 0x10000, 0);
    const before = Array.from(cpu.xmm);
    cpu.xmm[0] = 0;
    expectFault(() => execute(cpu, decodeHex("0f ae 0b")), VEC_GP);
    expect(cpu.xmm[0]).toBe(0);
    cpu.xmm[0] = before[0];

    const cpu32 = makeCpu();
    cpu32.mode = 32;
    filled(cpu32);
    cpu32.setReg64(3, 0x5000, 0);
    for (let i = 0; i < 512; i += 4) cpu32.write(0x5000 + i, 4, 0x5a5a5a5a, 0);
    execute(cpu32, decodeHex("0f ae 03", 32));
    expect(cpu32.read(0x5000 + 160 + 16 * 7, 4) | 0).toBe(cpu32.xmm[28]);
    expect(cpu32.read(0x5000 + 160 + 16 * 8, 4) >>> 0).toBe(0x5a5a5a5a);
    cpu32.xmm.fill(0);
    execute(cpu32, decodeHex("0f ae 0b", 32));
    expect(cpu32.xmm[28]).not.toBe(0);
    expect(cpu32.xmm[32]).toBe(0);
  });
});

describe("RCP/RSQRT approximations", () => {
  it("stay within the SDM's relative error 1.5*2^-12 and give the specified special results", () => {
    const cpu = makeCpu();
    const rcpps = decodeHex("0f 53 c1"), rsqrtps = decodeHex("0f 52 c1");
    const random = makeRandom(99);
    const toFloat = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
    for (let n = 0; n < 5000; n++) {
      const inputs = [0, 1, 2, 3].map(() => ((random() % 250 + 2) << 23 | (random() & 0x7fffff)) >>> 0);
      setXmm(cpu, 1, inputs);
      execute(cpu, rcpps);
      getXmm(cpu, 0).forEach((bits, i) => {
        const exact = 1 / toFloat(inputs[i]);
        if (exact < 2 ** -126) expect(bits).toBe(0);
        else expect(Math.abs(toFloat(bits) - exact) / exact).toBeLessThanOrEqual(1.5 * 2 ** -12);
      });
      execute(cpu, rsqrtps);
      getXmm(cpu, 0).forEach((bits, i) => {
        const exact = 1 / Math.sqrt(toFloat(inputs[i]));
        expect(Math.abs(toFloat(bits) - exact) / exact).toBeLessThanOrEqual(1.5 * 2 ** -12);
      });
    }
    cpu.mxcsr = 0x1f80;
    setXmm(cpu, 1, [0x00000000, 0x80000001, 0xff800000, 0x7f800001]);
    execute(cpu, rcpps);
    expect(getXmm(cpu, 0)).toEqual([0x7f800000, 0xff800000, 0x80000000, 0x7fc00001]);
    setXmm(cpu, 1, [0x80000000, 0xbf800000, 0x7f800000, 0xffc00000]);
    execute(cpu, rsqrtps);
    expect(getXmm(cpu, 0)).toEqual([0xff800000, 0xffc00000, 0x00000000, 0xffc00000]);
    expect(cpu.mxcsr).toBe(0x1f80);
  });
});
