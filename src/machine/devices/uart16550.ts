// A 16550A UART (COM1 at 0x3F8-0x3FF, IRQ 4), following QEMU's hw/char/serial.c register by
// register: RBR/THR, IER (4 bits), IIR with the FIFO bits (0xC0) while FCR enables the FIFOs, FCR
// (16-byte receive FIFO with trigger levels 1/4/8/14, the character-timeout interrupt after four
// character times), LCR with DLAB for the divisor latch, MCR (5 bits, loopback), LSR, MSR (DCD,
// DSR, CTS asserted; delta bits), SCR. Transmission is instantaneous: every THR write reaches
// `onTransmit` at once and THRE/TEMT come back immediately, as with QEMU's stdio backend.
//
// Host input is queued by `receive` and fed as the UART can take it (`pumpInput`, called by the
// machine between instruction batches), like QEMU's chardev flow control: nothing is dropped.
import type { AccessSize } from "../memory.js";
import type { PortDevice } from "../io-bus.js";

const IER_RDI = 0x01, IER_THRI = 0x02, IER_RLSI = 0x04, IER_MSI = 0x08;
const IIR_NO_INT = 0x01, IIR_ID = 0x06, IIR_MSI = 0x00, IIR_THRI = 0x02, IIR_RDI = 0x04, IIR_RLSI = 0x06, IIR_CTI = 0x0c, IIR_FE = 0xc0;
const FCR_FE = 0x01, FCR_RFR = 0x02, FCR_XFR = 0x04;
const LCR_DLAB = 0x80;
const MCR_LOOP = 0x10;
const LSR_DR = 0x01, LSR_OE = 0x02, LSR_BI = 0x10, LSR_THRE = 0x20, LSR_TEMT = 0x40, LSR_INT_ANY = 0x1e;
const MSR_DCD = 0x80, MSR_DSR = 0x20, MSR_CTS = 0x10, MSR_ANY_DELTA = 0x0f;
const FIFO_LENGTH = 16;
const BAUD_BASE = 115200;

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;

export class Uart16550 implements PortDevice {
  rbr = 0;
  thr = 0;
  tsr = 0;
  ier = 0;
  iir = IIR_NO_INT;
  lcr = 0;
  mcr = 0x08; // OUT2
  lsr = LSR_TEMT | LSR_THRE;
  msr = MSR_DCD | MSR_DSR | MSR_CTS;
  scr = 0;
  fcr = 0;
  divider = 0x0c;
  thrPending = false;
  timeoutPending = false;
  /** guest ns at which the receive FIFO's character timeout fires, or Infinity */
  timeoutDeadline = Infinity;
  /** nanoseconds one character takes on the wire at the current divisor and frame format (QEMU's integer) */
  charTransmitTime = Math.floor(1e9 / 9600) * 10;
  readonly recvFifo = new Uint8Array(FIFO_LENGTH);
  recvHead = 0;
  recvCount = 0;
  recvTrigger = 1;
  /** the IRQ line level */
  irqLevel = false;

  /** host bytes waiting for room in the UART */
  private readonly input: number[] = [];
  private inputHead = 0;

  /** every byte the guest transmits (outside loopback mode) */
  onTransmit: (byte: number) => void = () => {};
  onIrq: (level: boolean) => void = () => {};
  /** called when the character-timeout deadline moves earlier */
  onDeadlineChange: () => void = () => {};

  constructor(private readonly now: () => number) {}

  // ---- interrupts ------------------------------------------------------------------------------

  private updateIrq(): void {
    let id = IIR_NO_INT;
    if (this.ier & IER_RLSI && this.lsr & LSR_INT_ANY) id = IIR_RLSI;
    else if (this.ier & IER_RDI && this.timeoutPending) id = IIR_CTI;
    else if (this.ier & IER_RDI && this.lsr & LSR_DR && (!(this.fcr & FCR_FE) || this.recvCount >= this.recvTrigger)) id = IIR_RDI;
    else if (this.ier & IER_THRI && this.thrPending) id = IIR_THRI;
    else if (this.ier & IER_MSI && this.msr & MSR_ANY_DELTA) id = IIR_MSI;
    this.iir = id | (this.iir & 0xf0);
    const level = id !== IIR_NO_INT;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.onIrq(level);
    }
  }

  // ---- receive ---------------------------------------------------------------------------------

  /** Queues host input for the guest. */
  receive(bytes: ArrayLike<number>): void {
    for (let i = 0; i < bytes.length; i++) this.input.push(bytes[i]! & 0xff);
    this.pumpInput();
  }

  /** Whether host input is still queued. */
  hasQueuedInput(): boolean {
    return this.inputHead < this.input.length;
  }

  /** How many bytes the UART takes now (QEMU's serial_can_receive). */
  private canReceive(): number {
    if (this.fcr & FCR_FE) {
      if (this.recvCount >= FIFO_LENGTH) return 0;
      return this.recvCount <= this.recvTrigger ? this.recvTrigger - this.recvCount : 1;
    }
    return this.lsr & LSR_DR ? 0 : 1;
  }

  /** Moves queued host input into the UART as far as it can take it. */
  pumpInput(): void {
    if (this.mcr & MCR_LOOP) return; // in loopback mode nothing comes from outside
    let room = this.canReceive();
    if (room === 0 || this.inputHead >= this.input.length) return;
    while (room > 0 && this.inputHead < this.input.length) {
      this.receiveByte(this.input[this.inputHead++]!);
      room--;
    }
    if (this.inputHead >= this.input.length) {
      this.input.length = 0;
      this.inputHead = 0;
    }
  }

  private receiveByte(byte: number): void {
    if (this.fcr & FCR_FE) {
      if (this.recvCount >= FIFO_LENGTH) {
        this.lsr |= LSR_OE;
      } else {
        this.recvFifo[(this.recvHead + this.recvCount) % FIFO_LENGTH] = byte;
        this.recvCount++;
      }
      this.lsr |= LSR_DR;
      this.timeoutDeadline = this.now() + this.charTransmitTime * 4;
      this.onDeadlineChange();
    } else {
      if (this.lsr & LSR_DR) this.lsr |= LSR_OE;
      this.rbr = byte;
      this.lsr |= LSR_DR;
    }
    this.updateIrq();
  }

  /** Guest ns of the character timeout (Infinity if none). */
  nextDeadline(): number {
    return this.timeoutDeadline;
  }

  service(now: number): void {
    if (now < this.timeoutDeadline) return;
    this.timeoutDeadline = Infinity;
    if (this.recvCount > 0) {
      this.timeoutPending = true;
      this.updateIrq();
    }
  }

  // ---- transmit --------------------------------------------------------------------------------

  private transmit(): void {
    // With the FIFO enabled the transmit FIFO drains at once: one THR byte at a time here.
    this.tsr = this.thr;
    this.lsr |= LSR_THRE;
    if (!this.thrPending) {
      this.thrPending = true;
      this.updateIrq();
    }
    if (this.mcr & MCR_LOOP) this.receiveByte(this.tsr);
    else this.onTransmit(this.tsr);
    this.lsr |= LSR_TEMT;
  }

  private updateParameters(): void {
    if (this.divider === 0 || this.divider > BAUD_BASE) return;
    let frame = 1;
    if (this.lcr & 0x08) frame++;
    const stopBits = this.lcr & 0x04 ? 2 : 1;
    const dataBits = (this.lcr & 0x03) + 5;
    frame += dataBits + stopBits;
    // QEMU computes in single precision: (NANOSECONDS_PER_SECOND / (float)speed) * frame_size.
    const speed = Math.fround(Math.fround(BAUD_BASE) / Math.fround(this.divider));
    this.charTransmitTime = Math.trunc(Math.fround(Math.fround(1e9 / speed) * frame));
  }

  // ---- ports -----------------------------------------------------------------------------------

  in(port: number, size: AccessSize): number {
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.inByte((port + i) & 7) << (8 * i);
    return value >>> 0;
  }

  out(port: number, size: AccessSize, value: number): void {
    if (size === 2 && (port & 7) === 0 && this.lcr & LCR_DLAB) {
      // A word write to the divisor latch sets both halves (QEMU's 16-bit DLL access).
      this.divider = value & 0xffff;
      this.updateParameters();
      return;
    }
    for (let i = 0; i < size; i++) this.outByte((port + i) & 7, (value >>> (8 * i)) & 0xff);
  }

  private inByte(register: number): number {
    switch (register) {
      case 0: {
        if (this.lcr & LCR_DLAB) return this.divider & 0xff;
        let value: number;
        if (this.fcr & FCR_FE) {
          if (this.recvCount === 0) value = 0;
          else {
            value = this.recvFifo[this.recvHead]!;
            this.recvHead = (this.recvHead + 1) % FIFO_LENGTH;
            this.recvCount--;
          }
          if (this.recvCount === 0) this.lsr &= ~(LSR_DR | LSR_BI);
          else {
            this.timeoutDeadline = this.now() + this.charTransmitTime * 4;
            this.onDeadlineChange();
          }
          this.timeoutPending = false;
        } else {
          value = this.rbr;
          this.lsr &= ~(LSR_DR | LSR_BI);
        }
        this.updateIrq();
        return value;
      }
      case 1:
        return this.lcr & LCR_DLAB ? (this.divider >> 8) & 0xff : this.ier;
      case 2: {
        const value = this.iir;
        if ((value & IIR_ID) === IIR_THRI) {
          this.thrPending = false;
          this.updateIrq();
        }
        return value;
      }
      case 3:
        return this.lcr;
      case 4:
        return this.mcr;
      case 5: {
        const value = this.lsr;
        if (this.lsr & (LSR_BI | LSR_OE)) {
          this.lsr &= ~(LSR_BI | LSR_OE);
          this.updateIrq();
        }
        return value;
      }
      case 6: {
        if (this.mcr & MCR_LOOP) {
          // The modem outputs are wired to the inputs: RTS→CTS, DTR→DSR, OUT1→RI, OUT2→DCD.
          return ((this.mcr & 0x0c) << 4) | ((this.mcr & 0x02) << 3) | ((this.mcr & 0x01) << 5);
        }
        const value = this.msr;
        if (this.msr & MSR_ANY_DELTA) {
          this.msr &= 0xf0;
          this.updateIrq();
        }
        return value;
      }
      default:
        return this.scr;
    }
  }

  private outByte(register: number, value: number): void {
    switch (register) {
      case 0:
        if (this.lcr & LCR_DLAB) {
          this.divider = (this.divider & 0xff00) | value;
          this.updateParameters();
          return;
        }
        this.thr = value;
        this.thrPending = false;
        this.lsr &= ~(LSR_THRE | LSR_TEMT);
        this.updateIrq();
        this.transmit();
        return;
      case 1: {
        if (this.lcr & LCR_DLAB) {
          this.divider = (this.divider & 0x00ff) | (value << 8);
          this.updateParameters();
          return;
        }
        const changed = (this.ier ^ value) & 0x0f;
        this.ier = value & 0x0f;
        // Enabling THRI with THR empty raises the interrupt again (QEMU, after Bochs and Windows).
        if (changed & IER_THRI) this.thrPending = (this.ier & IER_THRI) !== 0 && (this.lsr & LSR_THRE) !== 0;
        if (changed) this.updateIrq();
        return;
      }
      case 2: {
        if ((value ^ this.fcr) & FCR_FE) value |= FCR_XFR | FCR_RFR;
        if (value & FCR_RFR) {
          this.lsr &= ~(LSR_DR | LSR_BI);
          this.timeoutDeadline = Infinity;
          this.timeoutPending = false;
          this.recvHead = 0;
          this.recvCount = 0;
        }
        if (value & FCR_XFR) {
          this.lsr |= LSR_THRE;
          this.thrPending = true;
        }
        this.fcr = value & 0xc9;
        if (this.fcr & FCR_FE) {
          this.iir |= IIR_FE;
          this.recvTrigger = [1, 4, 8, 14][this.fcr >> 6]!;
        } else {
          this.iir &= ~IIR_FE;
        }
        this.updateIrq();
        return;
      }
      case 3:
        this.lcr = value;
        this.updateParameters();
        return;
      case 4:
        this.mcr = value & 0x1f;
        if (!(this.mcr & MCR_LOOP)) this.pumpInput();
        return;
      case 5:
      case 6:
        return;
      default:
        this.scr = value;
    }
  }
}
