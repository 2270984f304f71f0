import { PhysicalMemory } from "../../src/machine/memory.js";
import { Mmu } from "../../src/machine/paging.js";
import { Mmu as Mmu1 } from "./p1.js";
const N=4096, DATA=0x400000, MASK=128*1024-4, STRIDE=148;
const memory = new PhysicalMemory(64<<20);
const PML4 = 0x10000, PDPT = 0x11000, PD = 0x12000;
memory.write32(PML4, PDPT | 3); memory.write32(PDPT, PD | 3);
for (let i = 0; i < 512; i++) memory.write32(PD + i * 8, (i * 0x200000) | 0x83);
const a = new Mmu(memory); a.setControl((1 << 31) | 1, PML4, 1 << 5, (1 << 8) | (1 << 10));
const b = new Mmu1(memory); b.setControl((1 << 31) | 1, PML4, 1 << 5, (1 << 8) | (1 << 10));
function raw(v: DataView) { let s=0; for (let i=0;i<N;i++) s += v.getUint32(DATA + ((i*STRIDE)&MASK), true); return s; }
function la(m: Mmu) { let s=0; for (let i=0;i<N;i++) s += m.read32(DATA + ((i*STRIDE)&MASK)); return s; }
function lb(m: Mmu1) { let s=0; for (let i=0;i<N;i++) s += m.read32(DATA + ((i*STRIDE)&MASK)); return s; }
const loops: [string, () => number][] = [["raw", () => raw(memory.view)], ["mmu", () => la(a)], ["stub", () => lb(b)]];
for (let k=0;k<4;k++) { const out: string[] = []; for (const [n,f] of loops) {
  for (let r=0;r<200;r++) f();
  const t0=process.hrtime.bigint(); for (let r=0;r<3000;r++) f(); const t1=process.hrtime.bigint();
  out.push(n + " " + (Number(t1-t0)/3000/N).toFixed(2)); } console.log(out.join("  ")); }
