import { PhysicalMemory } from "../../src/machine/memory.js";
import { Mmu } from "../../src/machine/paging.js";
import { Mmu as Mmu1 } from "./p1.js";
const N=4096, DATA=0x400000, MASK=128*1024-4, STRIDE=148;
const SIZE=4096, M=SIZE-1;
const memory = new PhysicalMemory(64<<20);
class T {
  readTag = new Float64Array(SIZE).fill(-1);
  fastBase = new Int32Array(SIZE);
  declare view: DataView;
  constructor(v: DataView) { this.view = v; }
  read32(linear: number): number {
    const offset = linear & 0xfff; const index = (linear >>> 12) & M;
    if (this.readTag[index] === linear - offset && offset <= 0xffc) return this.view.getUint32(this.fastBase[index]! + offset, true);
    return this.slow(linear);
  }
  slow(linear: number): number { const index = (linear >>> 12) & M; const pb = linear - (linear & 0xfff); this.readTag[index] = pb; this.fastBase[index] = pb; return this.view.getUint32(linear, true); }
}
const PML4 = 0x10000, PDPT = 0x11000, PD = 0x12000;
memory.write32(PML4, PDPT | 3); memory.write32(PDPT, PD | 3);
for (let i = 0; i < 512; i++) memory.write32(PD + i * 8, (i * 0x200000) | 0x83);
const a = new Mmu(memory); a.setControl((1 << 31) | 1, PML4, 1 << 5, (1 << 8) | (1 << 10));
const t = new T(memory.view);
const b = new Mmu1(memory); b.setControl((1 << 31) | 1, PML4, 1 << 5, (1 << 8) | (1 << 10));
for (let p = 0; p < 32; p++) b.translate(DATA + p * 4096, 0);
function lb(m: Mmu1) { let s=0; for (let i=0;i<N;i++) s += m.read32(DATA + ((i*STRIDE)&MASK)); return s; }
function raw(v: DataView) { let s=0; for (let i=0;i<N;i++) s += v.getUint32(DATA + ((i*STRIDE)&MASK), true); return s; }
function la(m: Mmu) { let s=0; for (let i=0;i<N;i++) s += m.read32(DATA + ((i*STRIDE)&MASK)); return s; }
function lt(m: T) { let s=0; for (let i=0;i<N;i++) s += m.read32(DATA + ((i*STRIDE)&MASK)); return s; }
const loops: [string, () => number][] = [["raw", () => raw(memory.view)], ["mmu", () => la(a)], ["T", () => lt(t)], ["p1", () => lb(b)]];
const best = loops.map(() => Infinity);
for (let r=0;r<300;r++) f0();
function f0() { for (const [,f] of loops) f(); }
for (let k=0;k<400;k++) loops.forEach(([,f], j) => { const t0=process.hrtime.bigint(); for (let r=0;r<20;r++) f(); const dt = Number(process.hrtime.bigint()-t0)/20/N; if (dt < best[j]!) best[j] = dt; });
console.log(loops.map(([n], j) => n + " " + best[j]!.toFixed(2)).join("  "));
