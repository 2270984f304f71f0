import { describe, expect, it } from "vitest";
import { CpuException, VEC_GP, VEC_PF, generalProtection, invalidOpcode, pageFault } from "../../src/machine/cpu-exception.js";
import { type AccessSize, type MmioDevice, PhysicalMemory } from "../../src/machine/memory.js";
import { Mmu } from "../../src/machine/paging.js";

/** An MMIO device that logs accesses and answers reads with a pattern derived from the offset. */
class LoggingDevice implements MmioDevice {
  readonly log: string[] = [];
  read(offset: number, size: AccessSize): number {
    this.log.push(`r${size}@${offset.toString(16)}`);
    // 0xAB000000 | offset, so the low bytes identify the offset; high bits exercise masking.
    return (0xab000000 | offset) >>> 0;
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.log.push(`w${size}@${offset.toString(16)}=${value.toString(16)}`);
  }
}

describe("PhysicalMemory: RAM", () => {
  it("reads and writes every size, little-endian, across the views", () => {
    const memory = new PhysicalMemory(64 * 1024);
    memory.write32(0x100, 0x11223344);
    expect(memory.read32(0x100)).toBe(0x11223344);
    expect(memory.read16(0x100)).toBe(0x3344);
    expect(memory.read16(0x102)).toBe(0x1122);
    expect(memory.read8(0x100)).toBe(0x44);
    expect(memory.read8(0x103)).toBe(0x11);
    expect([...memory.ram.subarray(0x100, 0x104)]).toEqual([0x44, 0x33, 0x22, 0x11]);
    expect(memory.ram32[0x40]).toBe(0x11223344);
    expect(memory.ram16[0x80]).toBe(0x3344);

    memory.write16(0x201, 0xbeef); // unaligned
    expect(memory.read16(0x201)).toBe(0xbeef);
    memory.write8(0x300, 0x1ff); // low bits only
    expect(memory.read8(0x300)).toBe(0xff);
    expect(memory.read8(0x301)).toBe(0);
  });

  it("returns unsigned values and takes any integer for writes", () => {
    const memory = new PhysicalMemory(4096);
    memory.write32(0, -1);
    expect(memory.read32(0)).toBe(0xffffffff);
    memory.write32(4, 0x80000000);
    expect(memory.read32(4)).toBe(0x80000000);
    memory.write16(8, -2);
    expect(memory.read16(8)).toBe(0xfffe);
    memory.write32(12, 0x1_2345_6789); // above 2^32: low 32 bits
    expect(memory.read32(12)).toBe(0x23456789);
  });

  it("read64/write64 split into dwords", () => {
    const memory = new PhysicalMemory(4096);
    memory.write64(0x10, 0x89abcdef, 0x01234567);
    expect([...memory.ram.subarray(0x10, 0x18)]).toEqual([0xef, 0xcd, 0xab, 0x89, 0x67, 0x45, 0x23, 0x01]);
    expect(memory.read64(0x10)).toBe(0x89abcdef);
    expect(memory.hi).toBe(0x01234567);
  });

  it("reads all-ones from unmapped memory and ignores writes there", () => {
    const memory = new PhysicalMemory(4096);
    expect(memory.read8(0x1000)).toBe(0xff);
    expect(memory.read16(0x10000)).toBe(0xffff);
    expect(memory.read32(0xfffffffc)).toBe(0xffffffff);
    expect(memory.read32(2 ** 40)).toBe(0xffffffff);
    memory.write32(0x2000, 0x12345678);
    expect(memory.read32(0x2000)).toBe(0xffffffff);
    expect(memory.read64(0x5000)).toBe(0xffffffff);
    expect(memory.hi).toBe(0xffffffff);
  });

  it("splits accesses straddling the end of RAM into bytes", () => {
    const memory = new PhysicalMemory(4096);
    memory.write32(0xffc, 0x44332211);
    expect(memory.read32(0xffe)).toBe(0xffff4433);
    expect(memory.read16(0xfff)).toBe(0xff44);
    memory.write32(0xffe, 0xddccbbaa); // only the two bytes inside RAM land
    expect(memory.read16(0xffe)).toBe(0xbbaa);
    expect(memory.read32(0xffc)).toBe(0xbbaa2211);
    memory.write64(0xffc, 0x01020304, 0x05060708);
    expect(memory.read32(0xffc)).toBe(0x01020304);
  });

  it("a RAM size that is not a page multiple works to the last byte", () => {
    const memory = new PhysicalMemory(5000);
    memory.write8(4999, 0x5a);
    expect(memory.read8(4999)).toBe(0x5a);
    expect(memory.read8(5000)).toBe(0xff);
    expect(memory.read16(4999)).toBe(0xff5a);
  });

  it("loadBytes/readBytes copy, including over unmapped bytes", () => {
    const memory = new PhysicalMemory(4096);
    memory.loadBytes(0x10, [1, 2, 3, 4, 5]);
    expect([...memory.readBytes(0x10, 5)]).toEqual([1, 2, 3, 4, 5]);
    memory.loadBytes(0xffe, new Uint8Array([9, 8, 7, 6]));
    expect([...memory.readBytes(0xffc, 6)]).toEqual([0, 0, 9, 8, 0xff, 0xff]);
    const copy = memory.readBytes(0x10, 2);
    copy[0] = 0x77;
    expect(memory.read8(0x10)).toBe(1); // a copy, not a view
  });

  it("rejects invalid RAM sizes", () => {
    expect(() => new PhysicalMemory(0)).toThrow(RangeError);
    expect(() => new PhysicalMemory(1.5)).toThrow(RangeError);
    expect(() => new PhysicalMemory(2 ** 33)).toThrow(RangeError);
  });
});

describe("PhysicalMemory: MMIO", () => {
  it("dispatches reads and writes with region offsets and sizes, masking values", () => {
    const memory = new PhysicalMemory(1 << 20);
    const device = new LoggingDevice();
    memory.registerMmio(0xfee00000, 0x1000, device);
    expect(memory.read32(0xfee00020)).toBe(0xab000020);
    expect(memory.read16(0xfee00030)).toBe(0x0030);
    expect(memory.read8(0xfee00fff)).toBe(0xff);
    memory.write32(0xfee000b0, -1);
    memory.write16(0xfee00010, 0x12345);
    memory.write8(0xfee00001, 0x1ab);
    expect(device.log).toEqual(["r4@20", "r2@30", "r1@fff", "w4@b0=ffffffff", "w2@10=2345", "w1@1=ab"]);
  });

  it("splits an access straddling an MMIO boundary into bytes", () => {
    const memory = new PhysicalMemory(1 << 20);
    const device = new LoggingDevice();
    memory.registerMmio(0xfebff000, 0x1000, device);
    // Two bytes below the region (unmapped: 0xff), two inside.
    expect(memory.read32(0xfebfeffe)).toBe(0x0100ffff);
    expect(device.log).toEqual(["r1@0", "r1@1"]);
    device.log.length = 0;
    // Last two bytes of the region, then unmapped.
    memory.write32(0xfebffffe, 0x44332211);
    expect(device.log).toEqual(["w1@ffe=11", "w1@fff=22"]);
  });

  it("MMIO over RAM takes priority; RAM around it stays reachable", () => {
    const memory = new PhysicalMemory(0x4000);
    memory.write32(0x1000, 0x11111111);
    memory.write32(0x3000, 0x33333333);
    const device = new LoggingDevice();
    memory.registerMmio(0x2000, 0x1000, device);
    expect(memory.fastEnd).toBe(0x2000);
    expect(memory.read32(0x2004)).toBe(0xab000004);
    expect(memory.read32(0x3000)).toBe(0x33333333);
    memory.write32(0x3004, 0x12345678);
    expect(memory.read32(0x3004)).toBe(0x12345678);
    // Straddling RAM and the device: bytes.
    memory.write32(0x1ffe, 0xaabbccdd);
    expect(memory.read16(0x1ffe)).toBe(0xccdd);
    expect(device.log).toContain("w1@0=bb");
    expect(memory.isRam(0x1fff)).toBe(true);
    expect(memory.isRam(0x2000)).toBe(false);
    memory.unregisterMmio(0x2000);
    expect(memory.fastEnd).toBe(0x4000);
    expect(memory.read32(0x3004)).toBe(0x12345678);
  });

  it("rejects overlapping regions and invalid ones", () => {
    const memory = new PhysicalMemory(4096);
    const device = new LoggingDevice();
    memory.registerMmio(0x10000, 0x1000, device);
    expect(() => memory.registerMmio(0x10fff, 0x10, device)).toThrow(/overlaps/);
    expect(() => memory.registerMmio(0xf000, 0x1001, device)).toThrow(/overlaps/);
    expect(() => memory.registerMmio(0x10800, 0x10, device)).toThrow(/overlaps/);
    expect(() => memory.registerMmio(0xf000, 0x2000 + 0x1000, device)).toThrow(/overlaps/);
    memory.registerMmio(0xf000, 0x1000, device); // adjacent is fine
    memory.registerMmio(0x11000, 0x1000, device);
    expect(() => memory.registerMmio(0x20000, 0, device)).toThrow(RangeError);
    expect(() => memory.registerMmio(-0x1000, 0x1000, device)).toThrow(RangeError);
    expect(() => memory.unregisterMmio(0x30000)).toThrow(/no MMIO region/);
  });
});

describe("PhysicalMemory: code pages", () => {
  function setup() {
    const memory = new PhysicalMemory(0x10000);
    const writes: [number, number][] = [];
    memory.onCodeWrite = (paddr, size) => writes.push([paddr, size]);
    return { memory, writes };
  }

  it("marks and unmarks RAM pages, refusing non-RAM pages", () => {
    const { memory } = setup();
    expect(memory.isCodePage(3)).toBe(false);
    expect(memory.markCodePage(3)).toBe(true);
    expect(memory.isCodePage(3)).toBe(true);
    memory.unmarkCodePage(3);
    expect(memory.isCodePage(3)).toBe(false);
    expect(memory.markCodePage(0x10)).toBe(false);
    expect(memory.isCodePage(0x10)).toBe(false);
  });

  it("calls onCodeWrite after writes of every size touching a marked page, and only those", () => {
    const { memory, writes } = setup();
    memory.markCodePage(2);
    memory.write8(0x1fff, 1); // page 1
    memory.write32(0x1ff8, 1); // page 1
    expect(writes).toEqual([]);
    memory.write8(0x2000, 0xaa);
    memory.write16(0x2ffe, 0xbbcc);
    memory.write32(0x2100, 0x12345678);
    memory.write32(0x1ffe, 0x55667788); // straddles pages 1 and 2
    memory.write16(0x2fff, 0x99aa); // straddles pages 2 and 3
    memory.write64(0x1ffc, 1, 2);
    memory.loadBytes(0x1800, new Uint8Array(0x1000)); // covers the start of page 2
    expect(writes).toEqual([
      [0x2000, 1],
      [0x2ffe, 2],
      [0x2100, 4],
      [0x1ffe, 4],
      [0x2fff, 2],
      [0x1ffc, 8],
      [0x1800, 0x1000],
    ]);
  });

  it("the callback sees the new bytes and may unmark the page", () => {
    const { memory } = setup();
    const seen: number[] = [];
    memory.markCodePage(1);
    memory.onCodeWrite = (paddr) => {
      seen.push(memory.read8(paddr));
      memory.unmarkCodePage(paddr >>> 12);
    };
    memory.write8(0x1234, 0x42);
    memory.write8(0x1235, 0x43); // page no longer marked
    expect(seen).toEqual([0x42]);
  });

  it("code writes through the slow path (RAM next to MMIO) also notify", () => {
    const { memory, writes } = setup();
    memory.registerMmio(0x8000, 0x1000, new LoggingDevice());
    memory.markCodePage(9);
    memory.write32(0x9010, 5); // above fastEnd: slow path
    expect(writes).toEqual([[0x9010, 4]]);
  });

  it("the MMU's fast write path honours pages marked after its TLB entry was made", () => {
    const { memory, writes } = setup();
    const mmu = new Mmu(memory); // paging off: linear = physical
    mmu.write32(0x3000, 1);
    mmu.write32(0x3004, 2); // now a TLB hit on the fast path
    expect(writes).toEqual([]);
    memory.markCodePage(3);
    mmu.write32(0x3008, 3);
    mmu.write8(0x3010, 4);
    mmu.write16(0x3012, 5);
    mmu.write64(0x3018, 6, 7);
    expect(writes).toEqual([
      [0x3008, 4],
      [0x3010, 1],
      [0x3012, 2],
      [0x3018, 4],
      [0x301c, 4],
    ]);
    expect(mmu.read32(0x3008)).toBe(3);
    // Unmarked again: the fast path may come back, and stays silent.
    memory.unmarkCodePage(3);
    writes.length = 0;
    mmu.write32(0x3020, 8);
    mmu.write32(0x3024, 9);
    expect(writes).toEqual([]);
    expect(memory.read32(0x3024)).toBe(9);
  });
});

describe("CpuException", () => {
  it("carries vector, error code and a readable message", () => {
    const fault = pageFault(0x6);
    expect(fault).toBeInstanceOf(CpuException);
    expect(fault).toBeInstanceOf(Error);
    expect(fault.vector).toBe(VEC_PF);
    expect(fault.errorCode).toBe(6);
    expect(fault.message).toBe("#PF(0x6)");
    expect(fault.name).toBe("CpuException");
    expect(generalProtection().errorCode).toBe(0);
    expect(generalProtection(0x18).vector).toBe(VEC_GP);
    expect(invalidOpcode().errorCode).toBeNull();
    expect(invalidOpcode().message).toBe("#UD");
    expect(new CpuException(0, null, "divide by zero").message).toBe("divide by zero");
  });
});
