import { PhysicalMemory } from "../../src/machine/memory.js";
import { Mmu } from "../../src/machine/paging.js";
const N=4096, DATA=0x400000, MASK=128*1024-4, STRIDE=148, HIGH=-(2**47) + 0x100000;
const memory = new PhysicalMemory(64<<20);
const PML4 = 0x10000, PDPT = 0x11000, PD = 0x12000;
memory.write32(PML4, PDPT | 3); memory.write32(PML4 + 256*8, PDPT | 3); memory.write32(PDPT, PD | 3);
for (let i = 0; i < 512; i++) memory.write32(PD + i * 8, (i * 0x200000) | 0x83);
const a = new Mmu(memory); a.setControl((1 << 31) | 1, PML4, 1 << 5, (1 << 8) | (1 << 10));
const off = new Mmu(memory);
for (const [m, base] of [[a, DATA], [a, HIGH + DATA], [off, DATA]] as const) for (let p = 0; p < 32; p++) m.translate(base + p * 4096, 1);
function raw(v: DataView, base: number) { let s=0; for (let i=0;i<N;i++) s += v.getUint32(base + ((i*STRIDE)&MASK), true); return s; }
function phys(v: PhysicalMemory, base: number) { let s=0; for (let i=0;i<N;i++) s += v.read32(base + ((i*STRIDE)&MASK)); return s; }
function r1(m: Mmu, base: number) { let s=0; for (let i=0;i<N;i++) s += m.read32(base + ((i*STRIDE)&MASK)); return s; }
function r2(m: Mmu, base: number) { let s=0; for (let i=0;i<N;i++) s += m.read32(base + ((i*STRIDE)&MASK)); return s; }
function r3(m: Mmu, base: number) { let s=0; for (let i=0;i<N;i++) s += m.read32(base + ((i*STRIDE)&MASK)); return s; }
function wraw(v: DataView, base: number) { for (let i=0;i<N;i++) v.setUint32(base + ((i*STRIDE)&MASK), i, true); return 0; }
function wphys(v: PhysicalMemory, base: number) { for (let i=0;i<N;i++) v.write32(base + ((i*STRIDE)&MASK), i); return 0; }
function w1(m: Mmu, base: number) { for (let i=0;i<N;i++) m.write32(base + ((i*STRIDE)&MASK), i); return 0; }
function w2(m: Mmu, base: number) { for (let i=0;i<N;i++) m.write32(base + ((i*STRIDE)&MASK), i); return 0; }
const loops: [string, () => number][] = [
  ["raw", () => raw(memory.view, DATA)], ["phys", () => phys(memory, DATA)], ["off", () => r1(off, DATA)], ["4lvl", () => r2(a, DATA)], ["high", () => r3(a, HIGH + DATA)],
  ["wraw", () => wraw(memory.view, DATA)], ["wphys", () => wphys(memory, DATA)], ["w4lvl", () => w1(a, DATA)], ["whigh", () => w2(a, HIGH + DATA)],
];
const best = loops.map(() => Infinity);
for (let r=0;r<300;r++) for (const [,f] of loops) f();
for (let k=0;k<300;k++) loops.forEach(([,f], j) => { const t0=process.hrtime.bigint(); for (let r=0;r<20;r++) f(); const dt = Number(process.hrtime.bigint()-t0)/20/N; if (dt < best[j]!) best[j] = dt; });
console.log(loops.map(([n], j) => n + " " + best[j]!.toFixed(2)).join("  "));
