// The i8259A programmable interrupt controller pair of a PC: master at 0x20/0x21 (IRQ 0-7), slave at
// 0xA0/0xA1 (IRQ 8-15) cascaded on the master's IRQ 2, plus the ELCR edge/level registers at
// 0x4D0/0x4D1. The logic follows QEMU's hw/intc/i8259.c (ICW1-4, OCW1 masks, OCW2 EOI/rotation,
// OCW3 IRR/ISR/poll/special mask, spurious IRQ 7), so guests see the same behaviour.
//
// The pair is the interpreter's InterruptController: `hasPending` is the master's INT output and
// `acknowledge` is the INTA cycle that returns the vector.
import type { AccessSize } from "../memory.js";
import type { PortDevice } from "../io-bus.js";
import type { InterruptController } from "../interp/interpreter.js";

/** One 8259A chip. */
export class Pic8259 {
  /** interrupt request register, in-service register, interrupt mask register */
  irr = 0;
  isr = 0;
  imr = 0;
  /** the input line levels last seen (edge detection) */
  lastIrr = 0;
  /** the vector of IRQ 0 of this chip (ICW2, low 3 bits clear) */
  irqBase = 0;
  /** lowest-priority rotation: the IRQ with the highest priority is priorityAdd */
  priorityAdd = 0;
  readRegisterSelect = 0;
  poll = false;
  specialMask = 0;
  /** 0: operational; 1-3: waiting for ICW2, ICW3, ICW4 */
  initState = 0;
  autoEoi = 0;
  rotateOnAutoEoi = 0;
  specialFullyNested = 0;
  init4 = 0;
  singleMode = 0;
  /** edge (0) / level (1) per IRQ, and which bits the ELCR can change */
  elcr = 0;
  /** the INT output line */
  output = false;
  /** called when `output` changes */
  onOutput: (level: boolean) => void = () => {};

  constructor(readonly isMaster: boolean, readonly elcrMask: number) {}

  /** Highest priority (0 = highest) among the bits of `mask`, 8 if none. */
  private priority(mask: number): number {
    if (mask === 0) return 8;
    let priority = 0;
    while ((mask & (1 << ((priority + this.priorityAdd) & 7))) === 0) priority++;
    return priority;
  }

  /** The IRQ (0-7) this chip wants to signal, or -1. */
  wantedIrq(): number {
    const priority = this.priority(this.irr & ~this.imr);
    if (priority === 8) return -1;
    let mask = this.isr;
    if (this.specialMask) mask &= ~this.imr;
    if (this.specialFullyNested && this.isMaster) mask &= ~(1 << 2);
    const current = this.priority(mask);
    return priority < current ? (priority + this.priorityAdd) & 7 : -1;
  }

  /**
   * Whether a request on `irq` (0-7), raised now, would be signalled: not masked and of higher
   * priority than everything in service (a handler that never sent EOI blocks its own line and
   * every lower one for good).
   */
  wouldSignal(irq: number): boolean {
    if (this.imr & (1 << irq)) return false;
    let mask = this.isr;
    if (this.specialMask) mask &= ~this.imr;
    if (this.specialFullyNested && this.isMaster) mask &= ~(1 << 2);
    return ((irq - this.priorityAdd) & 7) < this.priority(mask);
  }

  update(): void {
    const level = this.wantedIrq() >= 0;
    if (level !== this.output) {
      this.output = level;
      this.onOutput(level);
    }
  }

  /** Drives input line `irq` (0-7) to `level`: an edge (or a high level in level mode) sets IRR. */
  setIrq(irq: number, level: boolean): void {
    const mask = 1 << irq;
    if (this.elcr & mask) {
      if (level) {
        this.irr |= mask;
        this.lastIrr |= mask;
      } else {
        this.irr &= ~mask;
        this.lastIrr &= ~mask;
      }
    } else if (level) {
      if ((this.lastIrr & mask) === 0) this.irr |= mask;
      this.lastIrr |= mask;
    } else {
      this.lastIrr &= ~mask;
    }
    this.update();
  }

  /** The INTA cycle for `irq`: moves it from IRR to ISR (unless auto-EOI). */
  intack(irq: number): void {
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= 1 << irq;
    }
    // A level-triggered request stays in IRR while its line is high.
    if (!(this.elcr & (1 << irq))) this.irr &= ~(1 << irq);
    this.update();
  }

  /** ICW1: everything but the ELCR returns to its initial state. */
  private initReset(): void {
    this.lastIrr = 0;
    this.irr &= this.elcr;
    this.imr = 0;
    this.isr = 0;
    this.priorityAdd = 0;
    this.irqBase = 0;
    this.readRegisterSelect = 0;
    this.poll = false;
    this.specialMask = 0;
    this.initState = 0;
    this.autoEoi = 0;
    this.rotateOnAutoEoi = 0;
    this.specialFullyNested = 0;
    this.init4 = 0;
    this.singleMode = 0;
    this.update();
  }

  /** A write to the command port (offset 0) or the data port (offset 1). */
  write(offset: number, value: number): void {
    if (offset === 0) {
      if (value & 0x10) {
        this.initReset();
        this.initState = 1;
        this.init4 = value & 1;
        this.singleMode = value & 2;
      } else if (value & 0x08) {
        // OCW3
        if (value & 0x04) this.poll = true;
        if (value & 0x02) this.readRegisterSelect = value & 1;
        if (value & 0x40) this.specialMask = (value >> 5) & 1;
      } else {
        // OCW2
        const command = value >> 5;
        switch (command) {
          case 0:
          case 4:
            this.rotateOnAutoEoi = command >> 2;
            break;
          case 1: // non-specific EOI
          case 5: { // rotate on non-specific EOI
            const priority = this.priority(this.isr);
            if (priority !== 8) {
              const irq = (priority + this.priorityAdd) & 7;
              this.isr &= ~(1 << irq);
              if (command === 5) this.priorityAdd = (irq + 1) & 7;
              this.update();
            }
            break;
          }
          case 3: // specific EOI
            this.isr &= ~(1 << (value & 7));
            this.update();
            break;
          case 6: // set priority
            this.priorityAdd = (value + 1) & 7;
            this.update();
            break;
          case 7: { // rotate on specific EOI
            const irq = value & 7;
            this.isr &= ~(1 << irq);
            this.priorityAdd = (irq + 1) & 7;
            this.update();
            break;
          }
          default:
            break;
        }
      }
      return;
    }
    switch (this.initState) {
      case 0: // OCW1
        this.imr = value;
        this.update();
        break;
      case 1: // ICW2
        this.irqBase = value & 0xf8;
        this.initState = this.singleMode ? (this.init4 ? 3 : 0) : 2;
        break;
      case 2: // ICW3
        this.initState = this.init4 ? 3 : 0;
        break;
      case 3: // ICW4
        this.specialFullyNested = (value >> 4) & 1;
        this.autoEoi = (value >> 1) & 1;
        this.initState = 0;
        break;
    }
  }

  /** A read of the command port (IRR or ISR per OCW3, or a poll) or the data port (IMR). */
  read(offset: number): number {
    if (this.poll) {
      this.poll = false;
      const irq = this.wantedIrq();
      if (irq < 0) return 0;
      this.intack(irq);
      return irq | 0x80;
    }
    if (offset === 0) return this.readRegisterSelect ? this.isr : this.irr;
    return this.imr;
  }
}

/** Master + slave, the ELCR ports, and the CPU-facing InterruptController. */
export class PicPair implements PortDevice, InterruptController {
  readonly master = new Pic8259(true, 0xf8);
  readonly slave = new Pic8259(false, 0xde);
  /** the master's INT output, as the CPU sees it */
  pending = false;

  constructor() {
    this.master.onOutput = (level) => {
      this.pending = level;
    };
    this.slave.onOutput = (level) => this.master.setIrq(2, level);
  }

  /**
   * The state SeaBIOS leaves when QEMU starts a -kernel image (read back from QEMU 7.2 q35 by
   * test/fixtures/guest/probe.c): both chips initialized with ICW4 (8086 mode, no auto-EOI),
   * vectors 0x08 and 0x70, masks 0xB8/0x8E, IRQ 4 latched in the master's IRR, IRQ 10/11 level
   * triggered in the ELCR.
   */
  resetToBiosState(): void {
    for (const [chip, base, mask] of [[this.master, 0x08, 0xb8], [this.slave, 0x70, 0x8e]] as const) {
      chip.write(0, 0x11);
      chip.write(1, base);
      chip.write(1, chip === this.master ? 0x04 : 0x02);
      chip.write(1, 0x01);
      chip.write(1, mask);
    }
    this.slave.elcr = 0x0c;
    this.master.irr = 0x10;
    this.master.update();
  }

  /** Drives ISA IRQ line `irq` (0-15). */
  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setIrq(irq, level);
    else this.slave.setIrq(irq - 8, level);
  }

  /** Whether a request on ISA line `irq` (0-15), raised now, would reach the CPU (through IRQ 2 for the slave's). */
  wouldDeliver(irq: number): boolean {
    return irq < 8 ? this.master.wouldSignal(irq) : this.slave.wouldSignal(irq - 8) && this.master.wouldSignal(2);
  }

  /** A rising then falling edge on `irq` (a pulse for edge-triggered inputs). */
  pulseIrq(irq: number): void {
    this.setIrq(irq, true);
    this.setIrq(irq, false);
  }

  // ---- InterruptController ---------------------------------------------------------------------

  hasPending(): boolean {
    return this.pending;
  }

  acknowledge(): number {
    const master = this.master, slave = this.slave;
    let irq = master.wantedIrq();
    let vector: number;
    if (irq >= 0) {
      if (irq === 2) {
        let slaveIrq = slave.wantedIrq();
        if (slaveIrq >= 0) slave.intack(slaveIrq);
        else slaveIrq = 7; // spurious IRQ on the slave
        vector = slave.irqBase + slaveIrq;
      } else {
        vector = master.irqBase + irq;
      }
      master.intack(irq);
    } else {
      irq = 7; // spurious IRQ on the master
      vector = master.irqBase + irq;
    }
    return vector;
  }

  // ---- ports -------------------------------------------------------------------------------------

  /** Claims 0x20-0x21, 0xA0-0xA1 and the ELCR at 0x4D0-0x4D1 on `bus`. */
  register(bus: { register(port: number, count: number, device: PortDevice): void }): void {
    bus.register(0x20, 2, this);
    bus.register(0xa0, 2, this);
    bus.register(0x4d0, 2, this);
  }

  in(port: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.inByte(port + i) << (8 * i);
    return value >>> 0;
  }

  out(port: number, size: AccessSize, value: number): void {
    for (let i = 0; i < size; i++) this.outByte(port + i, (value >>> (8 * i)) & 0xff);
  }

  private inByte(port: number): number {
    switch (port) {
      case 0x20: case 0x21: return this.master.read(port & 1);
      case 0xa0: case 0xa1: return this.slave.read(port & 1);
      case 0x4d0: return this.master.elcr;
      case 0x4d1: return this.slave.elcr;
      default: return 0xff;
    }
  }

  private outByte(port: number, value: number): void {
    switch (port) {
      case 0x20: case 0x21: this.master.write(port & 1, value); break;
      case 0xa0: case 0xa1: this.slave.write(port & 1, value); break;
      case 0x4d0: this.master.elcr = value & this.master.elcrMask; break;
      case 0x4d1: this.slave.elcr = value & this.slave.elcrMask; break;
    }
  }
}
