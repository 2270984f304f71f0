// CPUID: a plausible x86-64 processor that advertises exactly what this machine implements —
// baseline x86-64 with SSE2 (no x87, no MMX), plus CMPXCHG16B, POPCNT, MOVBE, LZCNT, RDTSCP, NX and
// 1 GiB pages. Guests that probe features therefore never reach an unimplemented instruction.

const VENDOR = "GenuineIntel";
const BRAND = "x64 JIT emulator CPU (TypeScript)";

/** Four little-endian dwords of an ASCII string, padded with NULs. */
function dwords(text: string, count: number): number[] {
  const bytes = new Uint8Array(count * 4);
  for (let i = 0; i < Math.min(text.length, bytes.length); i++) bytes[i] = text.charCodeAt(i);
  const view = new DataView(bytes.buffer);
  return Array.from({ length: count }, (_, i) => view.getUint32(i * 4, true));
}

const vendor = dwords(VENDOR, 3);
const brand = dwords(BRAND, 12);

// Leaf 1 feature bits.
const EDX_PSE = 1 << 3, EDX_TSC = 1 << 4, EDX_MSR = 1 << 5, EDX_PAE = 1 << 6, EDX_CX8 = 1 << 8;
const EDX_PGE = 1 << 13, EDX_CMOV = 1 << 15, EDX_PAT = 1 << 16, EDX_CLFSH = 1 << 19, EDX_FXSR = 1 << 24;
const EDX_SSE = 1 << 25, EDX_SSE2 = 1 << 26;
const ECX_CX16 = 1 << 13, ECX_MOVBE = 1 << 22, ECX_POPCNT = 1 << 23;
// Leaf 0x80000001.
const EXT_EDX_SYSCALL = 1 << 11, EXT_EDX_NX = 1 << 20, EXT_EDX_PAGE1GB = 1 << 26, EXT_EDX_RDTSCP = 1 << 27, EXT_EDX_LM = 1 << 29;
const EXT_ECX_LAHF = 1 << 0, EXT_ECX_ABM = 1 << 5;

const out = new Uint32Array(4);

/** EAX, EBX, ECX, EDX for leaf `leaf`, subleaf `subleaf`. */
export function cpuid(leaf: number, subleaf: number): Uint32Array {
  out.fill(0);
  switch (leaf) {
    case 0: out[0] = 7; out[1] = vendor[0]; out[3] = vendor[1]; out[2] = vendor[2]; break;
    case 1:
      out[0] = 0x000006fb; // family 6, model 15, stepping 11
      out[1] = 0x00010800; // CLFLUSH line 8 qwords, one logical processor, APIC ID 0
      out[2] = ECX_CX16 | ECX_MOVBE | ECX_POPCNT;
      out[3] = EDX_PSE | EDX_TSC | EDX_MSR | EDX_PAE | EDX_CX8 | EDX_PGE | EDX_CMOV | EDX_PAT | EDX_CLFSH | EDX_FXSR | EDX_SSE | EDX_SSE2;
      break;
    case 7: break; // no structured extended features in any subleaf
    case 0x80000000: out[0] = 0x80000008; break;
    case 0x80000001:
      out[2] = EXT_ECX_LAHF | EXT_ECX_ABM;
      out[3] = EXT_EDX_SYSCALL | EXT_EDX_NX | EXT_EDX_PAGE1GB | EXT_EDX_RDTSCP | EXT_EDX_LM;
      break;
    case 0x80000002: case 0x80000003: case 0x80000004: {
      const base = (leaf - 0x80000002) * 4;
      for (let i = 0; i < 4; i++) out[i] = brand[base + i];
      break;
    }
    case 0x80000008: out[0] = 0x3028; break; // 40 physical, 48 linear address bits
    default:
      // Leaves above the maximum return the highest basic leaf's values, as Intel parts do.
      if (leaf < 0x80000000 && leaf > 7) return cpuid(7, subleaf);
  }
  return out;
}
