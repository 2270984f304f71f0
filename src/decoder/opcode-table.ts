// The instruction table: one row per instruction form, written once and consumed by the decoder,
// the disassembler, the tests and (later) the interpreter and the JIT, which attach semantics to the
// same rows by mnemonic and form.
//
// Row notation:  "ENCODING | MNEMONIC | OPERANDS | ATTRIBUTES"
//   ENCODING   [NP|66|F3|F2] [0F [38|3A]] OPCODE[+r] [/r|/0../7] [mem|reg|rm0..rm7] [W0|W1]
//              NP/66/F3/F2 are mandatory prefixes (NP: none of them); "+r" takes a register from the
//              opcode's low bits; /digit selects a ModRM.reg group member; mem/reg restrict ModRM.mod;
//              rmN selects a register-form ModRM.rm value; W0/W1 select REX.W.
//   MNEMONIC   iced-x86's mnemonic names; "a/b/c" picks by operand size 16/32/64 (or by address size
//              with the "asz" attribute).
//   OPERANDS   SDM appendix A notation, comma separated (see operand-spec.ts).
//   ATTRIBUTES lock (LOCK allowed with a memory destination), d64 (64-bit default operand size in long
//              mode), f64 (64-bit operand size forced in long mode), i64 (invalid in long mode), o64 (long
//              mode only), rep / repe (string instruction taking REP / REPE-REPNE), anymod (ModRM.mod is
//              ignored: register form always), unsup (a valid instruction this machine does not
//              execute: x87, MMX, SSE3+, VMX...), r:/w:/u: flags read / written / left undefined
//              (letters o s z a p c d i t, x for AC).
import { CONDITIONS } from "./flags.js";

const rows: string[] = [];
const add = (...lines: string[]) => rows.push(...lines);

// ---- one-byte map: arithmetic -------------------------------------------------------------------
const ALU = [
  ["add", "w:oszapc"], ["or", "w:oszpc u:a"], ["adc", "r:c w:oszapc"], ["sbb", "r:c w:oszapc"],
  ["and", "w:oszpc u:a"], ["sub", "w:oszapc"], ["xor", "w:oszpc u:a"], ["cmp", "w:oszapc"],
];
ALU.forEach(([name, flags], index) => {
  const base = index * 8;
  const hex = (offset: number) => (base + offset).toString(16).toUpperCase().padStart(2, "0");
  const lock = name === "cmp" ? "" : "lock ";
  add(
    `${hex(0)} /r | ${name} | Eb,Gb | ${lock}${flags}`,
    `${hex(1)} /r | ${name} | Ev,Gv | ${lock}${flags}`,
    `${hex(2)} /r | ${name} | Gb,Eb | ${flags}`,
    `${hex(3)} /r | ${name} | Gv,Ev | ${flags}`,
    `${hex(4)} | ${name} | AL,Ib | ${flags}`,
    `${hex(5)} | ${name} | rAX,Iz | ${flags}`,
    `80 /${index} | ${name} | Eb,Ib | ${lock}${flags}`,
    `81 /${index} | ${name} | Ev,Iz | ${lock}${flags}`,
    `82 /${index} | ${name} | Eb,Ib | i64 ${lock}${flags}`,
    `83 /${index} | ${name} | Ev,Ibs | ${lock}${flags}`,
  );
});

add(
  "06 | push | ES | i64", "07 | pop | ES | i64", "0E | push | CS | i64",
  "16 | push | SS | i64", "17 | pop | SS | i64", "1E | push | DS | i64", "1F | pop | DS | i64",
  "27 | daa | | i64 r:ac w:szapc u:o", "2F | das | | i64 r:ac w:szapc u:o",
  "37 | aaa | | i64 r:a w:ac u:oszp", "3F | aas | | i64 r:a w:ac u:oszp",
  "40+r | inc | Zv | i64 w:oszap", "48+r | dec | Zv | i64 w:oszap",
  "50+r | push | Zv | d64", "58+r | pop | Zv | d64",
  "60 | pusha/pushad/ | | i64", "61 | popa/popad/ | | i64",
  "62 /r mem | bound | Gv,Ma | i64",
  "63 /r | arpl | Ewr,Gwr | i64 w:z",
  "63 /r | movsxd | Gv,Ez | o64",
  "68 | push | Iz | d64", "69 /r | imul | Gv,Ev,Iz | w:oc u:szap",
  "6A | push | Ibs | d64", "6B /r | imul | Gv,Ev,Ibs | w:oc u:szap",
  "6C | insb | Yb,DX | rep r:d", "6D | insw/insd/insd | Yz,DX | rep r:d",
  "6E | outsb | DX,Xb | rep r:d", "6F | outsw/outsd/outsd | DX,Xz | rep r:d",
);
CONDITIONS.forEach(({ suffix, reads }, cc) => {
  const hex = cc.toString(16).toUpperCase();
  add(
    `7${hex} | j${suffix} | Jb | f64 r:${reads}`,
    `0F 8${hex} | j${suffix} | Jz | f64 r:${reads}`,
    `0F 9${hex} /r | set${suffix} | Eb | r:${reads}`,
    `0F 4${hex} /r | cmov${suffix} | Gv,Ev | r:${reads}`,
  );
});

add(
  "84 /r | test | Eb,Gb | w:oszpc u:a", "85 /r | test | Ev,Gv | w:oszpc u:a",
  "86 /r | xchg | Eb,Gb | lock", "87 /r | xchg | Ev,Gv | lock",
  "88 /r | mov | Eb,Gb", "89 /r | mov | Ev,Gv", "8A /r | mov | Gb,Eb", "8B /r | mov | Gv,Ev",
  
  "8D /r mem | lea | Gv,M",
  
  "8F /0 | pop | Ev | d64",
  "90 B0 | nop | |", "F3 90 | pause | |",
  "90+r | xchg | Zv,rAX |",
  "98 | cbw/cwde/cdqe | |", "99 | cwd/cdq/cqo | |",
  "9A | call | Ap | i64",
  "9B | wait | | unsup",
  "9C | pushf/pushfd/pushfq | | d64 r:oszapcdix",
  "9D | popf/popfd/popfq | | d64 w:oszapcdix",
  "9E | sahf | | w:szapc", "9F | lahf | | r:szapc",
  "A0 | mov | AL,Ob", "A1 | mov | rAX,Ov", "A2 | mov | Ob,AL", "A3 | mov | Ov,rAX",
  "A4 | movsb | Yb,Xb | rep r:d", "A5 | movsw/movsd/movsq | Yv,Xv | rep r:d",
  "A6 | cmpsb | Xb,Yb | repe r:d w:oszapc", "A7 | cmpsw/cmpsd/cmpsq | Xv,Yv | repe r:d w:oszapc",
  "A8 | test | AL,Ib | w:oszpc u:a", "A9 | test | rAX,Iz | w:oszpc u:a",
  "AA | stosb | Yb,AL | rep r:d", "AB | stosw/stosd/stosq | Yv,rAX | rep r:d",
  "AC | lodsb | AL,Xb | rep r:d", "AD | lodsw/lodsd/lodsq | rAX,Xv | rep r:d",
  "AE | scasb | AL,Yb | repe r:d w:oszapc", "AF | scasw/scasd/scasq | rAX,Yv | repe r:d w:oszapc",
  "B0+r | mov | Zb,Ib", "B8+r | mov | Zv,Iv",
  "C2 | ret | Iw | f64", "C3 | ret | | f64",
  "C4 /r mem | les | Gz,Mp | i64", "C5 /r mem | lds | Gz,Mp | i64",
  "C6 /0 | mov | Eb,Ib", "C7 /0 | mov | Ev,Iz",
  "C8 | enter | Iw,Ib | d64", "C9 | leave | | d64",
  "CA | retf | Iw |", "CB | retf | |",
  "CC | int3 | |", "CD | int | Ib |", "CE | into | | i64 r:o",
  "CF | iret/iretd/iretq | | w:oszapcdix",
  "D4 | aam | Ib | i64 w:szp u:oac", "D5 | aad | Ib | i64 w:szp u:oac",
  "D6 | salc | | i64 r:c",
  "D7 | xlatb | XLAT |",
  "E0 | loopne | Jb | f64 r:z", "E1 | loope | Jb | f64 r:z", "E2 | loop | Jb | f64",
  "E3 | jcxz/jecxz/jrcxz | Jb | f64 asz",
  "E4 | in | AL,Ib", "E5 | in | eAX,Ib", "E6 | out | Ib,AL", "E7 | out | Ib,eAX",
  "E8 | call | Jz | f64", "E9 | jmp | Jz | f64", "EA | jmp | Ap | i64", "EB | jmp | Jb | f64",
  "EC | in | AL,DX", "ED | in | eAX,DX", "EE | out | DX,AL", "EF | out | DX,eAX",
  "F1 | int1 | |", "F4 | hlt | |", "F5 | cmc | | r:c w:c",
  "F6 /0 | test | Eb,Ib | w:oszpc u:a", "F6 /1 | test | Eb,Ib | w:oszpc u:a",
  "F6 /2 | not | Eb | lock", "F6 /3 | neg | Eb | lock w:oszapc",
  "F6 /4 | mul | Eb | w:oc u:szap", "F6 /5 | imul | Eb | w:oc u:szap",
  "F6 /6 | div | Eb | u:oszapc", "F6 /7 | idiv | Eb | u:oszapc",
  "F7 /0 | test | Ev,Iz | w:oszpc u:a", "F7 /1 | test | Ev,Iz | w:oszpc u:a",
  "F7 /2 | not | Ev | lock", "F7 /3 | neg | Ev | lock w:oszapc",
  "F7 /4 | mul | Ev | w:oc u:szap", "F7 /5 | imul | Ev | w:oc u:szap",
  "F7 /6 | div | Ev | u:oszapc", "F7 /7 | idiv | Ev | u:oszapc",
  "F8 | clc | | w:c", "F9 | stc | | w:c", "FA | cli | | w:i", "FB | sti | | w:i",
  "FC | cld | | w:d", "FD | std | | w:d",
  "FE /0 | inc | Eb | lock w:oszap", "FE /1 | dec | Eb | lock w:oszap",
  "FF /0 | inc | Ev | lock w:oszap", "FF /1 | dec | Ev | lock w:oszap",
  "FF /2 | call | Ev | f64", "FF /3 mem | call | Mp |",
  "FF /4 | jmp | Ev | f64", "FF /5 mem | jmp | Mp |", "FF /6 | push | Ev | d64",
);

// Shifts and rotates (group 2). By-1 forms define OF; by-count forms leave it undefined.
const SHIFTS = [
  ["rol", "", "c"], ["ror", "", "c"], ["rcl", "c", "c"], ["rcr", "c", "c"],
  ["shl", "", "szpc"], ["shr", "", "szpc"], ["sal", "", "szpc"], ["sar", "", "szpc"],
];
SHIFTS.forEach(([name, reads, writes], index) => {
  const read = reads ? ` r:${reads}` : "";
  const undef = writes === "c" ? "o" : "oa";
  const undefBy1 = writes === "c" ? "" : " u:a";
  add(
    `C0 /${index} | ${name} | Eb,Ib |${read} w:${writes} u:${undef}`,
    `C1 /${index} | ${name} | Ev,Ib |${read} w:${writes} u:${undef}`,
    `D0 /${index} | ${name} | Eb,1 |${read} w:o${writes}${undefBy1}`,
    `D1 /${index} | ${name} | Ev,1 |${read} w:o${writes}${undefBy1}`,
    `D2 /${index} | ${name} | Eb,CL |${read} w:${writes} u:${undef}`,
    `D3 /${index} | ${name} | Ev,CL |${read} w:${writes} u:${undef}`,
  );
});

// x87 escape opcodes: decoded for length only.
for (let opcode = 0xd8; opcode <= 0xdf; opcode++) add(`${opcode.toString(16).toUpperCase()} /r | (x87) | E | unsup`);

// ---- two-byte map (0F) --------------------------------------------------------------------------
add(
  "0F 00 /0 | sldt | Ewv |", "0F 00 /1 | str | Ewv |",
  "0F 00 /2 | lldt | Ewr |", "0F 00 /3 | ltr | Ewr |",
  "0F 00 /4 | verr | Ewr | w:z", "0F 00 /5 | verw | Ewr | w:z",
  "0F 01 /0 mem | sgdt | Ms |", "0F 01 /1 mem | sidt | Ms |",
  "0F 01 /2 mem | lgdt | Ms |", "0F 01 /3 mem | lidt | Ms |",
  "0F 01 /4 | smsw | Ewv |",
  "0F 01 /6 | lmsw | Ewr |", "0F 01 /7 mem | invlpg | M |",
  "NP 0F 01 /1 rm0 | monitor | | unsup", "NP 0F 01 /1 rm1 | mwait | | unsup",
  "NP 0F 01 /1 rm2 | clac | | unsup w:x", "NP 0F 01 /1 rm3 | stac | | unsup w:x",
  "NP 0F 01 /2 rm0 | xgetbv | | unsup", "NP 0F 01 /2 rm1 | xsetbv | | unsup",
  "0F 01 /7 rm0 | swapgs | | o64", "0F 01 /7 rm1 | rdtscp | |",
  "0F 02 /r | lar | Gv,Ewv | w:z", "0F 03 /r | lsl | Gv,Ewv | w:z",
  "0F 05 | syscall | | r:oszapcdix w:oszapcdix", "0F 06 | clts | |",
  "0F 07 W0 | sysret | | w:oszapcdix", "0F 07 W1 | sysretq | | o64 w:oszapcdix",
  "0F 08 | invd | |", "0F 09 | wbinvd | |", "0F 0B | ud2 | |",
  "0F 0D /1 mem | prefetchw | Mb | unsup",
  "0F 18 /0 mem | prefetchnta | Mb |", "0F 18 /1 mem | prefetcht0 | Mb |",
  "0F 18 /2 mem | prefetcht1 | Mb |", "0F 18 /3 mem | prefetcht2 | Mb |",
  "F3 0F 1E /7 rm2 | endbr64 | |", "F3 0F 1E /7 rm3 | endbr32 | |",
  "0F 1F /0 | nop | Ev |",
  "0F 20 /r | mov | Ry,Cy | anymod f64 u:oszapc", "0F 21 /r | mov | Ry,Dy | anymod f64 u:oszapc",
  "0F 22 /r | mov | Cy,Ry | anymod f64 u:oszapc", "0F 23 /r | mov | Dy,Ry | anymod f64 u:oszapc",
  "0F 30 | wrmsr | |", "0F 31 | rdtsc | |", "0F 32 | rdmsr | |", "0F 33 | rdpmc | | unsup",
  "0F 34 | sysenter | | unsup w:i", "0F 35 W0 | sysexit | | unsup", "0F 35 W1 | sysexitq | | unsup o64",
  "0F A0 | push | FS | d64", "0F A1 | pop | FS | d64", "0F A2 | cpuid | |",
  "0F A3 /r | bt | Ev,Gv | w:c u:osap", "0F A4 /r | shld | Ev,Gv,Ib | w:szpc u:oa",
  "0F A5 /r | shld | Ev,Gv,CL | w:szpc u:oa",
  "0F A8 | push | GS | d64", "0F A9 | pop | GS | d64", "0F AA | rsm | | unsup w:oszapcdix",
  "0F AB /r | bts | Ev,Gv | lock w:c u:osap", "0F AC /r | shrd | Ev,Gv,Ib | w:szpc u:oa",
  "0F AD /r | shrd | Ev,Gv,CL | w:szpc u:oa",
  "NP 0F AE /0 mem W0 | fxsave | Mfx |", "NP 0F AE /1 mem W0 | fxrstor | Mfx |",
  "NP 0F AE /0 mem W1 | fxsave64 | Mfx |", "NP 0F AE /1 mem W1 | fxrstor64 | Mfx |",
  "NP 0F AE /2 mem | ldmxcsr | Md |", "NP 0F AE /3 mem | stmxcsr | Md |",
  "NP 0F AE /7 mem | clflush | Mb |",
  "NP 0F AE /5 reg | lfence | |", "NP 0F AE /6 reg | mfence | |", "NP 0F AE /7 reg | sfence | |",
  "0F AF /r | imul | Gv,Ev | w:oc u:szap",
  "0F B0 /r | cmpxchg | Eb,Gb | lock w:oszapc", "0F B1 /r | cmpxchg | Ev,Gv | lock w:oszapc",
  "0F B2 /r mem | lss | Gv,Mp |", "0F B3 /r | btr | Ev,Gv | lock w:c u:osap",
  "0F B4 /r mem | lfs | Gv,Mp |", "0F B5 /r mem | lgs | Gv,Mp |",
  "0F B6 /r | movzx | Gv,Eb |", "0F B7 /r | movzx | Gv,Ew |",
  "F3 0F B8 /r | popcnt | Gv,Ev | w:oszapc",
  "0F B9 /r | ud1 | Gv,Ev |",
  "0F BA /4 | bt | Ev,Ib | w:c u:osap", "0F BA /5 | bts | Ev,Ib | lock w:c u:osap",
  "0F BA /6 | btr | Ev,Ib | lock w:c u:osap", "0F BA /7 | btc | Ev,Ib | lock w:c u:osap",
  "0F BB /r | btc | Ev,Gv | lock w:c u:osap",
  "0F BC /r | bsf | Gv,Ev | w:z u:osapc", "F3 0F BC /r | tzcnt | Gv,Ev | w:zc u:osap",
  "0F BD /r | bsr | Gv,Ev | w:z u:osapc", "F3 0F BD /r | lzcnt | Gv,Ev | w:zc u:osap",
  "0F BE /r | movsx | Gv,Eb |", "0F BF /r | movsx | Gv,Ew |",
  "0F C0 /r | xadd | Eb,Gb | lock w:oszapc", "0F C1 /r | xadd | Ev,Gv | lock w:oszapc",
  "NP 0F C3 /r mem | movnti | My,Gy |",
  "0F C7 /1 mem W0 | cmpxchg8b | Mq | lock w:z", "0F C7 /1 mem W1 | cmpxchg16b | Mdq | lock w:z",
  "0F C8+r | bswap | Zv |",
  "0F FF /r | ud0 | Gv,Ev |",
  "0F 38 F0 /r mem !F3 | movbe | Gv,Mv |", "0F 38 F1 /r mem !F3 | movbe | Mv,Gv |",
);
// Segment register moves: ModRM.reg names ES..GS; MOV to CS is not an instruction.
for (let sreg = 0; sreg < 6; sreg++) {
  add(`8C /${sreg} mem | mov | Mw,Sw`, `8C /${sreg} reg | mov | Rv,Sw`);
  if (sreg !== 1) add(`8E /${sreg} | mov | Sw,Ewr`);
}

// Hint NOPs: 0F 19-1F (and the 0F 18 members without a prefetch meaning) are reserved NOPs.
for (let opcode = 0x19; opcode <= 0x1f; opcode++) add(`0F ${opcode.toString(16).toUpperCase()} /r | reservednop | Ev,Gv |`);
for (const member of [4, 5, 6, 7]) add(`0F 18 /${member} | reservednop | Ev,Gv |`);
add("0F 18 /0 reg | reservednop | Ev,Gv |", "0F 18 /1 reg | reservednop | Ev,Gv |", "0F 18 /2 reg | reservednop | Ev,Gv |", "0F 18 /3 reg | reservednop | Ev,Gv |");

// ---- SSE and SSE2 -------------------------------------------------------------------------------
/** One opcode with its forms under each mandatory prefix: [prefix, mnemonic, operands, attributes?]. */
function sse(opcode: string, ...forms: Array<[string, string, string, string?]>) {
  for (const [prefix, mnemonic, operands, attributes = ""] of forms) add(`${prefix} 0F ${opcode} | ${mnemonic} | ${operands} | ${attributes}`);
}
/** An arithmetic opcode with the four forms ps (NP), pd (66), ss (F3), sd (F2). */
function sseArith(opcode: string, stem: string, flags = "") {
  sse(opcode,
    ["NP", `${stem}ps`, "Vps,Wps", flags], ["66", `${stem}pd`, "Vpd,Wpd", flags],
    ["F3", `${stem}ss`, "Vss,Wss", flags], ["F2", `${stem}sd`, "Vsd,Wsd", flags]);
}
/** A packed-integer opcode: SSE2 with 66, MMX (not executed) without a prefix. */
function packedInt(opcode: string, mnemonic: string, mmxToo = true) {
  sse(opcode, ["66", mnemonic, "Vx,Wx"]);
  if (mmxToo) sse(opcode, ["NP", mnemonic, "Pq,Qq", "unsup"]);
}

sse("10 /r", ["NP", "movups", "Vps,Wps"], ["66", "movupd", "Vpd,Wpd"], ["F3", "movss", "Vss,Wss"], ["F2", "movsd", "Vsd,Wsd"]);
sse("11 /r", ["NP", "movups", "Wps,Vps"], ["66", "movupd", "Wpd,Vpd"], ["F3", "movss", "Wss,Vss"], ["F2", "movsd", "Wsd,Vsd"]);
sse("12 /r mem", ["NP", "movlps", "Vq,Mq"], ["66", "movlpd", "Vq,Mq"]);
sse("12 /r reg", ["NP", "movhlps", "Vq,Uq"]);
sse("12 /r", ["F3", "movsldup", "Vx,Wx", "unsup"], ["F2", "movddup", "Vx,Wq", "unsup"]);
sse("13 /r mem", ["NP", "movlps", "Mq,Vq"], ["66", "movlpd", "Mq,Vq"]);
sse("14 /r", ["NP", "unpcklps", "Vps,Wps"], ["66", "unpcklpd", "Vpd,Wpd"]);
sse("15 /r", ["NP", "unpckhps", "Vps,Wps"], ["66", "unpckhpd", "Vpd,Wpd"]);
sse("16 /r mem", ["NP", "movhps", "Vq,Mq"], ["66", "movhpd", "Vq,Mq"]);
sse("16 /r reg", ["NP", "movlhps", "Vq,Uq"]);
sse("16 /r", ["F3", "movshdup", "Vx,Wx", "unsup"]);
sse("17 /r mem", ["NP", "movhps", "Mq,Vq"], ["66", "movhpd", "Mq,Vq"]);
sse("28 /r", ["NP", "movaps", "Vps,Wps"], ["66", "movapd", "Vpd,Wpd"]);
sse("29 /r", ["NP", "movaps", "Wps,Vps"], ["66", "movapd", "Wpd,Vpd"]);
sse("2A /r", ["NP", "cvtpi2ps", "Vps,Qpi", "unsup"], ["66", "cvtpi2pd", "Vpd,Qpi", "unsup"], ["F3", "cvtsi2ss", "Vss,Ey"], ["F2", "cvtsi2sd", "Vsd,Ey"]);
sse("2B /r mem", ["NP", "movntps", "Mps,Vps"], ["66", "movntpd", "Mpd,Vpd"]);
sse("2C /r", ["NP", "cvttps2pi", "Pq,Wq", "unsup"], ["66", "cvttpd2pi", "Pq,Wpd", "unsup"], ["F3", "cvttss2si", "Gy,Wss"], ["F2", "cvttsd2si", "Gy,Wsd"]);
sse("2D /r", ["NP", "cvtps2pi", "Pq,Wq", "unsup"], ["66", "cvtpd2pi", "Pq,Wpd", "unsup"], ["F3", "cvtss2si", "Gy,Wss"], ["F2", "cvtsd2si", "Gy,Wsd"]);
sse("2E /r", ["NP", "ucomiss", "Vss,Wss", "w:oszapc"], ["66", "ucomisd", "Vsd,Wsd", "w:oszapc"]);
sse("2F /r", ["NP", "comiss", "Vss,Wss", "w:oszapc"], ["66", "comisd", "Vsd,Wsd", "w:oszapc"]);
sse("50 /r reg", ["NP", "movmskps", "Gy,Ups"], ["66", "movmskpd", "Gy,Upd"]);
sse("51 /r", ["NP", "sqrtps", "Vps,Wps"], ["66", "sqrtpd", "Vpd,Wpd"], ["F3", "sqrtss", "Vss,Wss"], ["F2", "sqrtsd", "Vsd,Wsd"]);
sse("52 /r", ["NP", "rsqrtps", "Vps,Wps"], ["F3", "rsqrtss", "Vss,Wss"]);
sse("53 /r", ["NP", "rcpps", "Vps,Wps"], ["F3", "rcpss", "Vss,Wss"]);
sse("54 /r", ["NP", "andps", "Vps,Wps"], ["66", "andpd", "Vpd,Wpd"]);
sse("55 /r", ["NP", "andnps", "Vps,Wps"], ["66", "andnpd", "Vpd,Wpd"]);
sse("56 /r", ["NP", "orps", "Vps,Wps"], ["66", "orpd", "Vpd,Wpd"]);
sse("57 /r", ["NP", "xorps", "Vps,Wps"], ["66", "xorpd", "Vpd,Wpd"]);
sseArith("58 /r", "add");
sseArith("59 /r", "mul");
sse("5A /r", ["NP", "cvtps2pd", "Vpd,Wq"], ["66", "cvtpd2ps", "Vps,Wpd"], ["F3", "cvtss2sd", "Vsd,Wss"], ["F2", "cvtsd2ss", "Vss,Wsd"]);
sse("5B /r", ["NP", "cvtdq2ps", "Vps,Wx"], ["66", "cvtps2dq", "Vx,Wps"], ["F3", "cvttps2dq", "Vx,Wps"]);
sseArith("5C /r", "sub");
sseArith("5D /r", "min");
sseArith("5E /r", "div");
sseArith("5F /r", "max");
const PACKED_INT_0F: Array<[string, string]> = [
  ["60", "punpcklbw"], ["61", "punpcklwd"], ["62", "punpckldq"], ["63", "packsswb"], ["64", "pcmpgtb"],
  ["65", "pcmpgtw"], ["66", "pcmpgtd"], ["67", "packuswb"], ["68", "punpckhbw"], ["69", "punpckhwd"],
  ["6A", "punpckhdq"], ["6B", "packssdw"], ["74", "pcmpeqb"], ["75", "pcmpeqw"], ["76", "pcmpeqd"],
  ["D1", "psrlw"], ["D2", "psrld"], ["D3", "psrlq"], ["D4", "paddq"], ["D5", "pmullw"], ["D8", "psubusb"],
  ["D9", "psubusw"], ["DA", "pminub"], ["DB", "pand"], ["DC", "paddusb"], ["DD", "paddusw"], ["DE", "pmaxub"],
  ["DF", "pandn"], ["E0", "pavgb"], ["E1", "psraw"], ["E2", "psrad"], ["E3", "pavgw"], ["E4", "pmulhuw"],
  ["E5", "pmulhw"], ["E8", "psubsb"], ["E9", "psubsw"], ["EA", "pminsw"], ["EB", "por"], ["EC", "paddsb"],
  ["ED", "paddsw"], ["EE", "pmaxsw"], ["EF", "pxor"], ["F1", "psllw"], ["F2", "pslld"], ["F3", "psllq"],
  ["F4", "pmuludq"], ["F5", "pmaddwd"], ["F6", "psadbw"], ["F8", "psubb"], ["F9", "psubw"], ["FA", "psubd"],
  ["FB", "psubq"], ["FC", "paddb"], ["FD", "paddw"], ["FE", "paddd"],
];
for (const [opcode, mnemonic] of PACKED_INT_0F) packedInt(`${opcode} /r`, mnemonic);
packedInt("6C /r", "punpcklqdq", false);
packedInt("6D /r", "punpckhqdq", false);
sse("6E /r W0", ["66", "movd", "Vx,Ey"]);
sse("6E /r W1", ["66", "movq", "Vx,Ey"]);
sse("6E /r W0", ["NP", "movd", "Pq,Ey", "unsup"]);
sse("6E /r W1", ["NP", "movq", "Pq,Ey", "unsup"]);
sse("6F /r", ["NP", "movq", "Pq,Qq", "unsup"], ["66", "movdqa", "Vx,Wx"], ["F3", "movdqu", "Vx,Wx"]);
sse("70 /r", ["NP", "pshufw", "Pq,Qq,Ib", "unsup"], ["66", "pshufd", "Vx,Wx,Ib"], ["F3", "pshufhw", "Vx,Wx,Ib"], ["F2", "pshuflw", "Vx,Wx,Ib"]);
for (const [opcode, members] of [["71", [[2, "psrlw"], [4, "psraw"], [6, "psllw"]]], ["72", [[2, "psrld"], [4, "psrad"], [6, "pslld"]]], ["73", [[2, "psrlq"], [6, "psllq"]]]] as const) {
  for (const [member, mnemonic] of members) sse(`${opcode} /${member} reg`, ["66", mnemonic, "Ux,Ib"], ["NP", mnemonic, "Nq,Ib", "unsup"]);
}
sse("73 /3 reg", ["66", "psrldq", "Ux,Ib"]);
sse("73 /7 reg", ["66", "pslldq", "Ux,Ib"]);
sse("77", ["NP", "emms", "", "unsup"]);
sse("7E /r", ["F3", "movq", "Vx,Wq"]);
sse("7E /r W0", ["66", "movd", "Ey,Vx"]);
sse("7E /r W1", ["66", "movq", "Ey,Vx"]);
sse("7E /r W0", ["NP", "movd", "Ey,Pq", "unsup"]);
sse("7E /r W1", ["NP", "movq", "Ey,Pq", "unsup"]);
sse("7F /r", ["NP", "movq", "Qq,Pq", "unsup"], ["66", "movdqa", "Wx,Vx"], ["F3", "movdqu", "Wx,Vx"]);
sse("C2 /r", ["NP", "cmpps", "Vps,Wps,Ib"], ["66", "cmppd", "Vpd,Wpd,Ib"], ["F3", "cmpss", "Vss,Wss,Ib"], ["F2", "cmpsd", "Vsd,Wsd,Ib"]);
sse("C4 /r mem", ["66", "pinsrw", "Vx,Mw,Ib"], ["NP", "pinsrw", "Pq,Mw,Ib", "unsup"]);
sse("C4 /r reg", ["66", "pinsrw", "Vx,Ry,Ib"], ["NP", "pinsrw", "Pq,Ry,Ib", "unsup"]);
sse("C5 /r reg", ["66", "pextrw", "Gy,Ux,Ib"], ["NP", "pextrw", "Gy,Nq,Ib", "unsup"]);
sse("C6 /r", ["NP", "shufps", "Vps,Wps,Ib"], ["66", "shufpd", "Vpd,Wpd,Ib"]);
sse("D6 /r", ["66", "movq", "Wq,Vx"]);
sse("D6 /r reg", ["F3", "movq2dq", "Vx,Nq", "unsup"], ["F2", "movdq2q", "Pq,Ux", "unsup"]);
sse("D7 /r reg", ["66", "pmovmskb", "Gy,Ux"], ["NP", "pmovmskb", "Gy,Nq", "unsup"]);
sse("E6 /r", ["66", "cvttpd2dq", "Vx,Wpd"], ["F3", "cvtdq2pd", "Vx,Wq"], ["F2", "cvtpd2dq", "Vx,Wpd"]);
sse("E7 /r mem", ["66", "movntdq", "Mx,Vx"], ["NP", "movntq", "Mq,Pq", "unsup"]);
sse("F7 /r reg", ["66", "maskmovdqu", "MASKMOV,Vx,Ux"], ["NP", "maskmovq", "MASKMOV,Pq,Nq", "unsup"]);
// SSE3 forms in the 0F map, decoded for length only.
sse("D0 /r", ["66", "addsubpd", "Vx,Wx", "unsup"], ["F2", "addsubps", "Vx,Wx", "unsup"]);
sse("7C /r", ["66", "haddpd", "Vx,Wx", "unsup"], ["F2", "haddps", "Vx,Wx", "unsup"]);
sse("7D /r", ["66", "hsubpd", "Vx,Wx", "unsup"], ["F2", "hsubps", "Vx,Wx", "unsup"]);
sse("F0 /r mem", ["F2", "lddqu", "Vx,Mx", "unsup"]);

// ---- extensions decoded for their length only ---------------------------------------------------
// Where a whole ModRM group is extension space (VMX, SVM, XSAVE, CET, RDRAND, ...), one catch-all
// row per group stands for all its members: they are never executed, so only their length matters.
add(
  "0F 0E | femms | | unsup", "0F 37 | getsec | | unsup",
  "0F 0D /r mem | prefetch | Mb | unsup", "0F 0D /r reg | reservednop | Ev,Gv |",
  "NP 0F 1C /0 mem | cldemote | Mb | unsup", "F3 0F 1E /1 reg | rdssp | Ey | unsup",
  "0F 18 /6 mem | prefetchit1 | Mb | unsup", "0F 18 /7 mem | prefetchit0 | Mb | unsup",
  "F3 0F 09 | wbnoinvd | | unsup",
  "0F 00 /r | (0F 00) | E | unsup",
  "0F 01 /r | (0F 01) | E | unsup",
  "0F AE /r | (0F AE) | E | unsup",
  "0F C7 /r | (0F C7) | E | unsup",
  "0F A6 /r reg | (padlock) | E | unsup", "0F A7 /r reg | (padlock) | E | unsup",
  "NP 0F 78 /r | vmread | Ey,Gy | unsup f64", "NP 0F 79 /r | vmwrite | Gy,Ey | unsup f64",
  "66 0F 78 /0 reg | extrq | Ux,Ib,Ib | unsup", "F2 0F 78 /r reg | insertq | Vx,Ux,Ib,Ib | unsup",
  "66 0F 79 /r reg | extrq | Vx,Ux | unsup", "F2 0F 79 /r reg | insertq | Vx,Ux | unsup",
  "F3 0F 2B /r mem | movntss | Md,Vx | unsup", "F2 0F 2B /r mem | movntsd | Mq,Vx | unsup",
  "C6 /7 rm0 | xabort | Ib | unsup", "C7 /7 rm0 | xbegin | Jz | unsup",
  "F2 0F 38 F0 /r | crc32 | Gy,Eb | unsup", "F2 0F 38 F1 /r | crc32 | Gy,Ev | unsup",
);

export const OPCODE_ROWS: readonly string[] = rows;
