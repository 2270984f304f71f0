// Split virtqueues (virtio 1.x §2.7, the legacy layout of §2.7.2 included), as QEMU 7.2's
// hw/virtio/virtio.c processes them: popping descriptor chains from the available ring, pushing
// them to the used ring, and the interrupt-suppression rules (VRING_AVAIL_F_NO_INTERRUPT, or the
// used_event/avail_event indices with VIRTIO_RING_F_EVENT_IDX).
//
// Everything in a ring is guest-controlled. Every check QEMU makes is made here with QEMU's
// message ("Guest says index %u is available", "Looped descriptor", "Desc next is %u", "Invalid
// size for indirect buffer table", zero-sized or unmappable buffers, ...); a failed check calls
// `host.error(message)`, which marks the device broken, and the operation stops. Nothing here
// throws, loops without bound or allocates per descriptor: a chain is at most VIRTQUEUE_MAX_SIZE
// (1024) descriptors (QEMU's scatter-gather limit), and the rings themselves are checked to lie in
// RAM when they are set up (QEMU's "Cannot map desc/used/avail"), so later accesses stay in RAM.
//
// Two checks go beyond QEMU 7.2 (DESIGN.md §8 asks for them; both are errors in the virtio spec):
// an available index more than the queue size ahead of the device (QEMU reports it on its
// receive/mergeable path only and re-reads stale ring entries elsewhere), and an indirect
// descriptor inside an indirect table (QEMU treats it as a data buffer).
import type { PhysicalMemory } from "../memory.js";

export const VIRTQUEUE_MAX_SIZE = 1024;
export const VIRTIO_NO_VECTOR = 0xffff;

export const VRING_DESC_F_NEXT = 1;
export const VRING_DESC_F_WRITE = 2;
export const VRING_DESC_F_INDIRECT = 4;
export const VRING_USED_F_NO_NOTIFY = 1;
export const VRING_AVAIL_F_NO_INTERRUPT = 1;

/** What a queue needs from its device. */
export interface VirtqueueHost {
  readonly memory: PhysicalMemory;
  /** marks the device broken and logs `message` (QEMU's virtio_error) */
  error(message: string): void;
  /** broken, or disabled (bus mastering switched off): queues read as empty, used rings are not written */
  inactive(): boolean;
  /** VIRTIO_RING_F_EVENT_IDX negotiated */
  eventIdx(): boolean;
  /** VIRTIO_F_NOTIFY_ON_EMPTY negotiated */
  notifyOnEmpty(): boolean;
}

/** One descriptor chain popped from a queue: its head and its device-readable (out) and device-writable (in) buffers. */
export class Chain {
  head = 0;
  outCount = 0;
  inCount = 0;
  /** total bytes of the out and in buffers */
  outBytes = 0;
  inBytes = 0;
  readonly outAddr = new Float64Array(VIRTQUEUE_MAX_SIZE);
  readonly outLen = new Uint32Array(VIRTQUEUE_MAX_SIZE);
  readonly inAddr = new Float64Array(VIRTQUEUE_MAX_SIZE);
  readonly inLen = new Uint32Array(VIRTQUEUE_MAX_SIZE);

  clear(): void {
    this.outCount = this.inCount = 0;
    this.outBytes = this.inBytes = 0;
  }

  /** Copies up to `length` bytes of the out buffers, starting `skip` bytes in, to `target`; returns the count. */
  readOut(memory: PhysicalMemory, skip: number, target: Uint8Array, length: number): number {
    const ram = memory.ram;
    let copied = 0;
    for (let i = 0; i < this.outCount && copied < length; i++) {
      const len = this.outLen[i]!;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const start = this.outAddr[i]! + skip;
      const n = Math.min(len - skip, length - copied);
      target.set(ram.subarray(start, start + n), copied);
      copied += n;
      skip = 0;
    }
    return copied;
  }

  /** Copies `source` into the in buffers starting `skip` bytes in; returns the bytes written (QEMU's iov_from_buf). */
  writeIn(memory: PhysicalMemory, skip: number, source: Uint8Array): number {
    let written = 0;
    const length = source.length;
    for (let i = 0; i < this.inCount && written < length; i++) {
      const len = this.inLen[i]!;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      const n = Math.min(len - skip, length - written);
      memory.loadBytes(this.inAddr[i]! + skip, written === 0 && n === length ? source : source.subarray(written, written + n));
      written += n;
      skip = 0;
    }
    return written;
  }
}

const DESC_SIZE = 16;

export class Virtqueue {
  /** the current size (0: the queue does not exist) and the size after a reset */
  num: number;
  readonly numDefault: number;
  /** guest-physical ring addresses (desc 0: not set up) */
  desc = 0;
  avail = 0;
  used = 0;
  /** whether the rings were checked to lie in RAM (QEMU's region caches) */
  mapped = false;
  lastAvailIdx = 0;
  shadowAvailIdx = 0;
  usedIdx = 0;
  inuse = 0;
  signalledUsed = 0;
  signalledUsedValid = false;
  notification = true;

  constructor(readonly index: number, size: number, private readonly host: VirtqueueHost) {
    this.num = size;
    this.numDefault = size;
  }

  /** QEMU's __virtio_queue_reset. */
  reset(): void {
    this.desc = this.avail = this.used = 0;
    this.mapped = false;
    this.lastAvailIdx = this.shadowAvailIdx = this.usedIdx = 0;
    this.signalledUsed = 0;
    this.signalledUsedValid = false;
    this.notification = true;
    this.num = this.numDefault;
    this.inuse = 0;
  }

  /** virtio_queue_set_num: no flipping between existent and nonexistent, at most 1024 entries. */
  setNum(num: number): void {
    if ((num !== 0) !== (this.num !== 0) || num > VIRTQUEUE_MAX_SIZE || num < 0) return;
    this.num = num;
  }

  /** The legacy interface: the rings at `address` in the legacy layout (avail after desc, used at the next 4 KiB). */
  setLegacyAddress(address: number): void {
    if (this.num === 0) return;
    this.desc = address;
    if (address === 0) return;
    this.avail = address + this.num * DESC_SIZE;
    this.used = Math.ceil((this.avail + 4 + 2 * this.num) / 4096) * 4096;
    this.initRegions();
  }

  /** The modern interface: queue_enable with the three ring addresses. */
  setRings(desc: number, avail: number, used: number): void {
    if (this.num === 0) return;
    this.desc = desc;
    this.avail = avail;
    this.used = used;
    this.initRegions();
  }

  /** QEMU's virtio_init_region_cache: the three rings must lie in RAM. */
  initRegions(): void {
    this.mapped = false;
    if (this.desc === 0) return;
    const extra = this.host.eventIdx() ? 2 : 0;
    if (!this.inRam(this.desc, this.num * DESC_SIZE)) return this.host.error("Cannot map desc");
    if (!this.inRam(this.used, 4 + 8 * this.num + extra)) return this.host.error("Cannot map used");
    if (!this.inRam(this.avail, 4 + 2 * this.num + extra)) return this.host.error("Cannot map avail");
    this.mapped = true;
  }

  /** The driver has set up the queue (virtio_queue_ready). */
  get ready(): boolean {
    return this.avail !== 0;
  }

  inRam(address: number, length: number): boolean {
    return address >= 0 && address + length <= this.host.memory.fastEnd;
  }

  // ---- ring fields ---------------------------------------------------------------------------

  private availIdx(): number {
    this.shadowAvailIdx = this.host.memory.view.getUint16(this.avail + 2, true);
    return this.shadowAvailIdx;
  }

  availFlags(): number {
    return this.host.memory.view.getUint16(this.avail, true);
  }

  private availRing(slot: number): number {
    return this.host.memory.view.getUint16(this.avail + 4 + 2 * slot, true);
  }

  private usedEvent(): number {
    return this.host.memory.view.getUint16(this.avail + 4 + 2 * this.num, true);
  }

  private setAvailEvent(value: number): void {
    this.host.memory.write16(this.used + 4 + 8 * this.num, value);
  }

  private setUsedFlags(set: boolean): void {
    const memory = this.host.memory;
    const flags = memory.view.getUint16(this.used, true);
    memory.write16(this.used, set ? flags | VRING_USED_F_NO_NOTIFY : flags & ~VRING_USED_F_NO_NOTIFY);
  }

  /** virtio_queue_set_notification: whether the driver should notify the device of new buffers. */
  setNotification(enable: boolean): void {
    this.notification = enable;
    if (!this.mapped) return;
    if (this.host.eventIdx()) this.setAvailEvent(this.availIdx());
    else this.setUsedFlags(!enable);
  }

  /** virtio_queue_empty (also true while the device is broken or disabled). */
  empty(): boolean {
    if (this.host.inactive() || !this.mapped || this.avail === 0) return true;
    if (this.shadowAvailIdx !== this.lastAvailIdx) return false;
    return this.availIdx() === this.lastAvailIdx;
  }

  /** Chains the driver made available that the device has not taken, or -1 after an error. */
  private numHeads(idx: number): number {
    const heads = (this.availIdx() - idx) & 0xffff;
    if (heads > this.num) {
      this.host.error(`Guest moved used index from ${idx} to ${this.shadowAvailIdx}`);
      return -1;
    }
    return heads;
  }

  /** The head at ring position `idx`, or -1 (error) when it is out of range. */
  private head(idx: number): number {
    const head = this.availRing(idx % this.num);
    if (head >= this.num) {
      this.host.error(`Guest says index ${head} is available`);
      return -1;
    }
    return head;
  }

  // ---- pop / push ----------------------------------------------------------------------------

  /** Takes the next available chain into `chain` (QEMU's virtqueue_split_pop); false when there is none or on an error. */
  pop(chain: Chain): boolean {
    if (this.empty()) return false;
    if (this.numHeads(this.lastAvailIdx) < 0) return false;
    if (this.inuse >= this.num) {
      this.host.error("Virtqueue size exceeded");
      return false;
    }
    const head = this.head(this.lastAvailIdx);
    this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
    if (head < 0) return false;
    if (this.host.eventIdx()) this.setAvailEvent(this.lastAvailIdx);

    const view = this.host.memory.view;
    let table = this.desc;
    let max = this.num;
    let i = head;
    let at = table + DESC_SIZE * i;
    let addrLo = view.getUint32(at, true);
    let addrHi = view.getUint32(at + 4, true);
    let len = view.getUint32(at + 8, true);
    let flags = view.getUint16(at + 12, true);
    let next = view.getUint16(at + 14, true);
    let indirect = false;
    if (flags & VRING_DESC_F_INDIRECT) {
      if (len === 0 || len % DESC_SIZE !== 0) {
        this.host.error("Invalid size for indirect buffer table");
        return false;
      }
      const tableAddress = addrLo + addrHi * 0x100000000;
      if (!this.inRam(tableAddress, len)) {
        this.host.error("Cannot map indirect buffer");
        return false;
      }
      indirect = true;
      table = tableAddress;
      max = len / DESC_SIZE;
      i = 0;
      at = table;
      addrLo = view.getUint32(at, true);
      addrHi = view.getUint32(at + 4, true);
      len = view.getUint32(at + 8, true);
      flags = view.getUint16(at + 12, true);
      next = view.getUint16(at + 14, true);
    }

    chain.clear();
    chain.head = head;
    let entries = 0;
    for (;;) {
      if (indirect && flags & VRING_DESC_F_INDIRECT) {
        this.host.error("Indirect descriptor inside an indirect table");
        return false;
      }
      const address = addrLo + addrHi * 0x100000000;
      const write = (flags & VRING_DESC_F_WRITE) !== 0;
      if (!write && chain.inCount !== 0) {
        this.host.error("Incorrect order for descriptors");
        return false;
      }
      // QEMU's virtqueue_map_desc
      if (len === 0) {
        this.host.error("virtio: zero sized buffers are not allowed");
        return false;
      }
      if (chain.outCount + chain.inCount === VIRTQUEUE_MAX_SIZE) {
        this.host.error("virtio: too many write descriptors in indirect table");
        return false;
      }
      if (!this.inRam(address, len)) {
        this.host.error("virtio: bogus descriptor or out of resources");
        return false;
      }
      if (write) {
        chain.inAddr[chain.inCount] = address;
        chain.inLen[chain.inCount++] = len;
        chain.inBytes += len;
      } else {
        chain.outAddr[chain.outCount] = address;
        chain.outLen[chain.outCount++] = len;
        chain.outBytes += len;
      }
      if (++entries > max) {
        this.host.error("Looped descriptor");
        return false;
      }
      if (!(flags & VRING_DESC_F_NEXT)) break;
      if (next >= max) {
        this.host.error(`Desc next is ${next}`);
        return false;
      }
      i = next;
      at = table + DESC_SIZE * i;
      addrLo = view.getUint32(at, true);
      addrHi = view.getUint32(at + 4, true);
      len = view.getUint32(at + 8, true);
      flags = view.getUint16(at + 12, true);
      next = view.getUint16(at + 14, true);
    }
    this.inuse++;
    return true;
  }

  /** Puts the last `count` popped chains back (QEMU's virtqueue_unpop). */
  unpop(count: number): void {
    this.lastAvailIdx = (this.lastAvailIdx - count) & 0xffff;
    this.inuse -= count;
  }

  /** Writes used element `offset` past the used index (QEMU's virtqueue_fill). */
  fill(head: number, length: number, offset: number): void {
    if (this.host.inactive() || !this.mapped) return;
    const memory = this.host.memory;
    const at = this.used + 4 + 8 * ((this.usedIdx + offset) % this.num);
    memory.write32(at, head);
    memory.write32(at + 4, length);
  }

  /** Publishes `count` filled elements (QEMU's virtqueue_flush). */
  flush(count: number): void {
    if (this.host.inactive() || !this.mapped) {
      this.inuse -= count;
      return;
    }
    const old = this.usedIdx;
    const next = (old + count) & 0xffff;
    this.host.memory.write16(this.used + 2, next);
    this.usedIdx = next;
    this.inuse -= count;
    if (((next - this.signalledUsed) << 16 >> 16) < ((next - old) & 0xffff)) this.signalledUsedValid = false;
  }

  /** fill + flush of one chain. */
  push(head: number, length: number): void {
    this.fill(head, length, 0);
    this.flush(1);
  }

  /** Whether the driver wants an interrupt for what was just pushed (QEMU's virtio_split_should_notify). */
  shouldNotify(): boolean {
    if (!this.mapped) return false;
    if (this.host.notifyOnEmpty() && this.inuse === 0 && this.empty()) return true;
    if (!this.host.eventIdx()) return (this.availFlags() & VRING_AVAIL_F_NO_INTERRUPT) === 0;
    const valid = this.signalledUsedValid;
    this.signalledUsedValid = true;
    const old = this.signalledUsed;
    const next = (this.signalledUsed = this.usedIdx);
    if (!valid) return true;
    // vring_need_event(event, new, old): (u16)(new - event - 1) < (u16)(new - old)
    return ((next - this.usedEvent() - 1) & 0xffff) < ((next - old) & 0xffff);
  }

  /**
   * Bytes of device-writable buffers in the available chains, counted until `maxIn` is reached
   * (QEMU's virtqueue_get_avail_bytes, with its checks); 0 after an error.
   */
  availInBytes(maxIn: number): number {
    if (this.host.inactive() || !this.mapped) return 0;
    const view = this.host.memory.view;
    let idx = this.lastAvailIdx;
    let inTotal = 0;
    let totalBufs = 0;
    for (;;) {
      const heads = this.numHeads(idx);
      if (heads < 0) return 0;
      if (heads === 0) return inTotal;
      let i = this.head(idx);
      idx = (idx + 1) & 0xffff;
      if (i < 0) return 0;
      let table = this.desc;
      let max = this.num;
      let numBufs = totalBufs;
      let at = table + DESC_SIZE * i;
      let len = view.getUint32(at + 8, true);
      let flags = view.getUint16(at + 12, true);
      let indirect = false;
      if (flags & VRING_DESC_F_INDIRECT) {
        if (len === 0 || len % DESC_SIZE !== 0) {
          this.host.error("Invalid size for indirect buffer table");
          return 0;
        }
        if (numBufs >= max) {
          this.host.error("Looped descriptor");
          return 0;
        }
        const tableAddress = view.getUint32(at, true) + view.getUint32(at + 4, true) * 0x100000000;
        if (!this.inRam(tableAddress, len)) {
          this.host.error("Cannot map indirect buffer");
          return 0;
        }
        indirect = true;
        table = tableAddress;
        // (QEMU walks any length of table here; pop() allows 1024 descriptors a chain)
        max = Math.min(len / DESC_SIZE, VIRTQUEUE_MAX_SIZE);
        numBufs = i = 0;
        at = table;
        len = view.getUint32(at + 8, true);
        flags = view.getUint16(at + 12, true);
      }
      for (;;) {
        if (++numBufs > max) {
          this.host.error("Looped descriptor");
          return 0;
        }
        if (flags & VRING_DESC_F_WRITE) inTotal += len;
        if (inTotal >= maxIn) return inTotal;
        if (!(flags & VRING_DESC_F_NEXT)) break;
        const next = view.getUint16(at + 14, true);
        if (next >= max) {
          this.host.error(`Desc next is ${next}`);
          return 0;
        }
        at = table + DESC_SIZE * next;
        len = view.getUint32(at + 8, true);
        flags = view.getUint16(at + 12, true);
      }
      if (indirect) totalBufs++;
      else totalBufs = numBufs;
    }
  }
}
