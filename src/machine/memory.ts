// The physical address space: guest RAM, memory-mapped devices, and the code-page bitmap the
// decoded-instruction cache and the JIT use to notice self-modifying code.
//
// RAM lives in one WebAssembly.Memory after a small *state area* (STATE_AREA_BYTES at offset 0) that
// holds what compiled WebAssembly units share with the rest of the machine: the register file, the
// TLB's fast tags, the flags record a unit leaves (src/jit/wasm). JS sees RAM through views that
// start at RAM_OFFSET, so a RAM offset is still the physical address; a WebAssembly unit adds
// RAM_OFFSET in its load/store instructions' offset immediate. RAM too large for a 4 GiB memory
// gets a plain ArrayBuffer instead (`wasmMemory` is null and the JIT keeps to JavaScript units).
//
// Addresses are non-negative JS numbers below 2^52. Reads return unsigned values (8/16/32 bits);
// writes take any integer and use its low bits. As on a PC, reads of unmapped physical memory
// return all-ones and writes to it are ignored. Where an MMIO region overlaps RAM, the device wins
// (the PCI hole); RAM above the lowest such region is still reachable around it, on the slow path.
//
// The fast path is "the whole access lies below `fastEnd`", which is the RAM size unless an MMIO
// region overlays RAM. Everything else (MMIO, RAM/MMIO/unmapped straddles, unmapped) goes through
// readSlow/writeSlow. Writes on every path honour the code-page bitmap: a write touching a marked
// page calls `onCodeWrite(paddr, size)` after the bytes are stored.

export type AccessSize = 1 | 2 | 4;

export interface MmioDevice {
  /** `offset` is relative to the region's base; return the value (only the low `size` bytes are used). */
  read(offset: number, size: AccessSize): number;
  /** `value` is already masked to `size` bytes (unsigned). */
  write(offset: number, size: AccessSize, value: number): void;
}

/** Told by PhysicalMemory when translations cached elsewhere (the MMU's TLB) may have gone stale. */
export interface PhysicalMemoryObserver {
  /** RAM page `ppn` now holds code: fast write paths to it must go. */
  codePageMarked(ppn: number): void;
  /** An MMIO region was added or removed: anything cached about RAM vs MMIO must go. */
  layoutChanged(): void;
}

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
/** Physical addresses are below 2^52 (the architectural limit). */
export const PHYSICAL_LIMIT = 2 ** 52;
/** The largest RAM this model takes: code-page indices are computed with `paddr >>> 12`. */
export const MAX_RAM_BYTES = 2 ** 32;
/** Bytes before RAM in the shared buffer, handed out by allocateState(). */
export const STATE_AREA_BYTES = 1024 * 1024;
/** Where RAM starts in the shared buffer. */
export const RAM_OFFSET = STATE_AREA_BYTES;
const WASM_PAGE = 65536;
const WASM_MAX_PAGES = 65536;

interface MmioRegion {
  readonly base: number;
  readonly end: number;
  readonly device: MmioDevice;
}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

function maskToSize(value: number, size: number): number {
  return size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
}

export class PhysicalMemory {
  // Fields assigned in the constructor are `declare`d: an emitted `field;` declaration would store
  // undefined first, and V8 would then check the type of the field on every hot-path load.
  declare readonly ramSize: number;
  /** the state area followed by RAM (the WebAssembly.Memory's buffer when there is one) */
  declare readonly buffer: ArrayBuffer;
  /** the memory WebAssembly units import, or null when RAM is too large for one */
  declare readonly wasmMemory: WebAssembly.Memory | null;
  declare readonly ram: Uint8Array;
  /** little-endian accesses: view.getUint32(paddr, true) */
  declare readonly view: DataView;
  /** aligned views over the same buffer (index = paddr >> 1 / paddr >> 2) */
  declare readonly ram16: Uint16Array;
  declare readonly ram32: Int32Array;
  /** one byte per 4 KiB page of RAM, nonzero when the page holds code the caches depend on */
  declare readonly codePages: Uint8Array;
  /**
   * Accesses lying entirely below this address are plain RAM (the fast path): the RAM size, or the
   * base of the lowest MMIO region that overlays RAM. Read-only for users; the MMU's TLB reads it.
   */
  declare fastEnd: number;
  /** Called after any write that touches a page marked with markCodePage. */
  onCodeWrite: ((paddr: number, size: number) => void) | null = null;
  /** the high dword of the last read64 */
  hi = 0;

  private readonly regions: MmioRegion[] = [];
  private lastRegion: MmioRegion | null = null;
  private readonly observers: PhysicalMemoryObserver[] = [];

  constructor(ramBytes: number) {
    if (!Number.isInteger(ramBytes) || ramBytes <= 0 || ramBytes > MAX_RAM_BYTES) {
      throw new RangeError(`RAM size must be an integer in 1..${MAX_RAM_BYTES} bytes, got ${ramBytes}`);
    }
    this.ramSize = ramBytes;
    const pages = Math.ceil((RAM_OFFSET + ramBytes) / WASM_PAGE);
    this.wasmMemory = pages <= WASM_MAX_PAGES ? new WebAssembly.Memory({ initial: pages, maximum: pages }) : null;
    this.buffer = this.wasmMemory !== null ? this.wasmMemory.buffer : new ArrayBuffer(RAM_OFFSET + ramBytes);
    this.ram = new Uint8Array(this.buffer, RAM_OFFSET, ramBytes);
    this.view = new DataView(this.buffer, RAM_OFFSET, ramBytes);
    this.ram16 = new Uint16Array(this.buffer, RAM_OFFSET, Math.floor(ramBytes / 2));
    this.ram32 = new Int32Array(this.buffer, RAM_OFFSET, Math.floor(ramBytes / 4));
    this.codePages = new Uint8Array(Math.ceil(ramBytes / PAGE_SIZE));
    this.fastEnd = ramBytes;
  }

  private stateUsed = 0;

  /**
   * Reserves `bytes` of the state area (aligned to `align`, a power of two ≥ 8) and returns their offset in `buffer`. The
   * machine's parts take theirs at construction; the area never moves, so views over it stay valid.
   */
  allocateState(bytes: number, align = 8): number {
    const at = Math.ceil(this.stateUsed / align) * align;
    const end = at + Math.ceil(bytes / 8) * 8;
    if (end > STATE_AREA_BYTES) throw new Error(`machine state area exhausted (${end} of ${STATE_AREA_BYTES} bytes)`);
    this.stateUsed = end;
    return at;
  }

  private readonly named = new Map<string, number>();

  /**
   * The part of the state area called `name` (`bytes` long), reserved at its first request: what
   * belongs to the machine rather than to one of its parts (the JIT's WebAssembly tables, which a
   * second engine on the same machine takes over).
   */
  namedState(name: string, bytes: number, align = 8): number {
    let at = this.named.get(name);
    if (at === undefined) {
      at = this.allocateState(bytes, align);
      this.named.set(name, at);
    }
    return at;
  }

  addObserver(observer: PhysicalMemoryObserver): void {
    this.observers.push(observer);
  }

  removeObserver(observer: PhysicalMemoryObserver): void {
    const at = this.observers.indexOf(observer);
    if (at >= 0) this.observers.splice(at, 1);
  }

  // ---- reads ---------------------------------------------------------------------------------

  read8(paddr: number): number {
    if (paddr >= 0 && paddr < this.fastEnd) return this.ram[paddr]!;
    return this.readSlow(paddr, 1);
  }

  read16(paddr: number): number {
    if (paddr >= 0 && paddr + 2 <= this.fastEnd) return this.view.getUint16(paddr, true);
    return this.readSlow(paddr, 2);
  }

  read32(paddr: number): number {
    if (paddr >= 0 && paddr + 4 <= this.fastEnd) return this.view.getUint32(paddr, true);
    return this.readSlow(paddr, 4);
  }

  /** Reads 8 bytes: returns the low dword (unsigned) and leaves the high dword in `hi`. */
  read64(paddr: number): number {
    if (paddr >= 0 && paddr + 8 <= this.fastEnd) {
      this.hi = this.view.getUint32(paddr + 4, true);
      return this.view.getUint32(paddr, true);
    }
    const lo = this.readSlow(paddr, 4);
    this.hi = this.read32(paddr + 4);
    return lo;
  }

  // ---- writes --------------------------------------------------------------------------------

  write8(paddr: number, value: number): void {
    if (paddr >= 0 && paddr < this.fastEnd) {
      this.ram[paddr] = value;
      if (this.codePages[paddr >>> PAGE_SHIFT] !== 0) this.codeWritten(paddr, 1);
      return;
    }
    this.writeSlow(paddr, 1, value);
  }

  write16(paddr: number, value: number): void {
    if (paddr >= 0 && paddr + 2 <= this.fastEnd) {
      this.view.setUint16(paddr, value, true);
      if (this.codePages[paddr >>> PAGE_SHIFT] !== 0 || ((paddr & 0xfff) === 0xfff && this.codePages[(paddr + 1) >>> PAGE_SHIFT] !== 0)) {
        this.codeWritten(paddr, 2);
      }
      return;
    }
    this.writeSlow(paddr, 2, value);
  }

  write32(paddr: number, value: number): void {
    if (paddr >= 0 && paddr + 4 <= this.fastEnd) {
      this.view.setUint32(paddr, value, true);
      if (this.codePages[paddr >>> PAGE_SHIFT] !== 0 || ((paddr & 0xfff) > 0xffc && this.codePages[(paddr + 3) >>> PAGE_SHIFT] !== 0)) {
        this.codeWritten(paddr, 4);
      }
      return;
    }
    this.writeSlow(paddr, 4, value);
  }

  /** Writes 8 bytes given as two dwords (low first). */
  write64(paddr: number, lo: number, hi: number): void {
    if (paddr >= 0 && paddr + 8 <= this.fastEnd) {
      this.view.setUint32(paddr, lo, true);
      this.view.setUint32(paddr + 4, hi, true);
      const code = this.codePages;
      if ((code[paddr >>> PAGE_SHIFT]! | code[(paddr + 7) >>> PAGE_SHIFT]!) !== 0) this.codeWritten(paddr, 8);
      return;
    }
    this.writeSlow(paddr, 4, lo);
    this.write32(paddr + 4, hi);
  }

  // ---- bulk helpers (loaders, devices doing DMA, tests) ----------------------------------------

  /** Copies `bytes` to physical memory at `paddr` (MMIO and unmapped bytes go byte by byte). */
  loadBytes(paddr: number, bytes: ArrayLike<number>): void {
    const length = bytes.length;
    if (length === 0) return;
    if (paddr >= 0 && paddr + length <= this.fastEnd) {
      this.ram.set(bytes, paddr);
      this.notifyRange(paddr, length);
      return;
    }
    for (let i = 0; i < length; i++) this.write8(paddr + i, bytes[i]!);
  }

  /** A copy of `length` bytes of physical memory at `paddr`. */
  readBytes(paddr: number, length: number): Uint8Array {
    if (paddr >= 0 && paddr + length <= this.fastEnd) return this.ram.slice(paddr, paddr + length);
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.read8(paddr + i);
    return out;
  }

  /** Whether the byte at `paddr` is RAM (not overlaid by MMIO). */
  isRam(paddr: number): boolean {
    return paddr >= 0 && paddr < this.ramSize && this.findMmio(paddr) === null;
  }

  // ---- code pages ----------------------------------------------------------------------------

  /**
   * Marks RAM page `ppn` (physical address >> 12) as holding code: from now on every write touching
   * it calls onCodeWrite. Returns false (and marks nothing) when the page is not RAM, where writes
   * cannot be tracked: callers must not cache code from such pages.
   */
  markCodePage(ppn: number): boolean {
    if (!(ppn >= 0 && ppn < this.codePages.length) || !Number.isInteger(ppn)) return false;
    if (this.codePages[ppn] === 0) {
      this.codePages[ppn] = 1;
      const observers = this.observers;
      for (let i = 0; i < observers.length; i++) observers[i]!.codePageMarked(ppn);
    }
    return true;
  }

  unmarkCodePage(ppn: number): void {
    if (ppn >= 0 && ppn < this.codePages.length) this.codePages[ppn] = 0;
  }

  isCodePage(ppn: number): boolean {
    return ppn >= 0 && ppn < this.codePages.length && this.codePages[ppn] !== 0;
  }

  // ---- MMIO ----------------------------------------------------------------------------------

  /** Maps `device` at [base, base + size). Throws when the range overlaps another MMIO region. */
  registerMmio(base: number, size: number, device: MmioDevice): void {
    if (!Number.isInteger(base) || !Number.isInteger(size) || base < 0 || size <= 0 || base + size > PHYSICAL_LIMIT) {
      throw new RangeError(`invalid MMIO region: base ${hex(base)}, size ${hex(size)}`);
    }
    const end = base + size;
    for (const region of this.regions) {
      if (base < region.end && region.base < end) {
        throw new Error(
          `MMIO region [${hex(base)}, ${hex(end)}) overlaps the region at [${hex(region.base)}, ${hex(region.end)})`,
        );
      }
    }
    this.regions.push({ base, end, device });
    this.regions.sort((a, b) => a.base - b.base);
    this.layoutChanged();
  }

  /** Removes the region registered at `base` (e.g. when a guest moves a PCI BAR). */
  unregisterMmio(base: number): void {
    const at = this.regions.findIndex((region) => region.base === base);
    if (at < 0) throw new Error(`no MMIO region at ${hex(base)}`);
    this.regions.splice(at, 1);
    this.layoutChanged();
  }

  // ---- slow paths ----------------------------------------------------------------------------

  private layoutChanged(): void {
    this.lastRegion = null;
    let fastEnd = this.ramSize;
    for (const region of this.regions) if (region.base < fastEnd) fastEnd = region.base;
    this.fastEnd = fastEnd;
    for (const observer of this.observers) observer.layoutChanged();
  }

  private findMmio(paddr: number): MmioRegion | null {
    const last = this.lastRegion;
    if (last !== null && paddr >= last.base && paddr < last.end) return last;
    const regions = this.regions;
    for (let i = 0; i < regions.length; i++) {
      const region = regions[i]!;
      if (paddr < region.base) break;
      if (paddr < region.end) {
        this.lastRegion = region;
        return region;
      }
    }
    return null;
  }

  /** Whether any MMIO region intersects [start, end). */
  private overlapsMmio(start: number, end: number): boolean {
    const regions = this.regions;
    for (let i = 0; i < regions.length; i++) {
      const region = regions[i]!;
      if (region.base >= end) break;
      if (region.end > start) return true;
    }
    return false;
  }

  private readSlow(paddr: number, size: AccessSize): number {
    const region = this.findMmio(paddr);
    if (region !== null && paddr + size <= region.end) {
      return maskToSize(region.device.read(paddr - region.base, size), size);
    }
    if (region === null && paddr >= 0 && paddr + size <= this.ramSize && !this.overlapsMmio(paddr, paddr + size)) {
      return size === 1 ? this.ram[paddr]! : size === 2 ? this.view.getUint16(paddr, true) : this.view.getUint32(paddr, true);
    }
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readByteSlow(paddr + i) << (8 * i);
    return value >>> 0;
  }

  private readByteSlow(paddr: number): number {
    const region = this.findMmio(paddr);
    if (region !== null) return region.device.read(paddr - region.base, 1) & 0xff;
    if (paddr >= 0 && paddr < this.ramSize) return this.ram[paddr]!;
    return 0xff;
  }

  private writeSlow(paddr: number, size: AccessSize, value: number): void {
    const region = this.findMmio(paddr);
    if (region !== null && paddr + size <= region.end) {
      region.device.write(paddr - region.base, size, maskToSize(value, size));
      return;
    }
    let touchedRam = false;
    if (region === null && paddr >= 0 && paddr + size <= this.ramSize && !this.overlapsMmio(paddr, paddr + size)) {
      if (size === 1) this.ram[paddr] = value;
      else if (size === 2) this.view.setUint16(paddr, value, true);
      else this.view.setUint32(paddr, value, true);
      touchedRam = true;
    } else {
      for (let i = 0; i < size; i++) {
        const byteAddress = paddr + i;
        const byte = (value >>> (8 * i)) & 0xff;
        const byteRegion = this.findMmio(byteAddress);
        if (byteRegion !== null) {
          byteRegion.device.write(byteAddress - byteRegion.base, 1, byte);
        } else if (byteAddress >= 0 && byteAddress < this.ramSize) {
          this.ram[byteAddress] = byte;
          touchedRam = true;
        }
      }
    }
    if (touchedRam) this.notifyRange(paddr, size);
  }

  /** Calls onCodeWrite once if [paddr, paddr + length) touches a marked page. */
  private notifyRange(paddr: number, length: number): void {
    const code = this.codePages;
    const first = Math.max(0, Math.floor(paddr / PAGE_SIZE));
    const last = Math.min(code.length - 1, Math.floor((paddr + length - 1) / PAGE_SIZE));
    for (let page = first; page <= last; page++) {
      if (code[page] !== 0) {
        this.codeWritten(paddr, length);
        return;
      }
    }
  }

  private codeWritten(paddr: number, size: number): void {
    const callback = this.onCodeWrite;
    if (callback !== null) callback(paddr, size);
  }
}
