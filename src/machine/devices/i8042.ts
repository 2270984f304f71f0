// The i8042 PS/2 controller at 0x60 (data) and 0x64 (status/command), which q35 keeps even with
// -nodefaults. Modelled as far as a guest without a keyboard driver pokes it, after QEMU's
// hw/input/pckbd.c: the status register (0x1C after SeaBIOS: self-test passed, last write a
// command, keyboard unlocked; bit 0 when a byte waits), the command byte (0x61: IRQ 1 enabled,
// system flag, scancode translation), controller self-tests, the output port (0xCF; bit 0 low
// resets), pulse commands 0xF0-0xFF (an even one resets), and ACKs from the keyboard and mouse for
// any command sent to them. IRQ 1 (IRQ 12 for mouse bytes) follows "a byte waits" when the command
// byte enables it. No key is ever pressed.
import type { AccessSize } from "../memory.js";
import type { PortDevice } from "../io-bus.js";

const STAT_OBF = 0x01, STAT_SELFTEST = 0x04, STAT_CMD = 0x08, STAT_UNLOCKED = 0x10, STAT_MOUSE_OBF = 0x20;
const MODE_KBD_INT = 0x01, MODE_MOUSE_INT = 0x02, MODE_DISABLE_KBD = 0x10, MODE_DISABLE_MOUSE = 0x20;
const OUT_RESET = 0x01, OUT_A20 = 0x02, OUT_OBF = 0x10, OUT_MOUSE_OBF = 0x20, OUT_ONES = 0xcc;
const ACK = 0xfa;

export const KBD_IRQ = 1;
export const MOUSE_IRQ = 12;

export class I8042 implements PortDevice {
  status = STAT_CMD | STAT_UNLOCKED | STAT_SELFTEST;
  mode = 0x61;
  outport = OUT_RESET | OUT_A20 | OUT_ONES;
  /** the byte the data port returns (the last one queued) */
  outputByte = 0xfa;
  /** controller command waiting for its data byte */
  private pendingCommand = 0;
  /** keyboard/mouse command waiting for its parameter byte */
  private deviceParameter = 0;
  /** queued bytes (bit 8 set: from the mouse) */
  private readonly queue: number[] = [];
  onReset: () => void = () => {};
  onIrq: (irq: number, level: boolean) => void = () => {};
  private irq1 = false;
  private irq12 = false;

  in(port: number, _size: AccessSize): number {
    if (port === 0x64) return this.status;
    if (port !== 0x60) return 0xff;
    // With the buffer empty the data port repeats the last byte (QEMU).
    const value = this.outputByte;
    if (this.status & STAT_OBF) {
      this.status &= ~(STAT_OBF | STAT_MOUSE_OBF);
      this.fill();
    }
    return value;
  }

  out(port: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (port === 0x64) this.command(value);
    else if (port === 0x60) this.data(value);
  }

  private enqueue(byte: number, fromMouse = false): void {
    this.queue.push(byte | (fromMouse ? 0x100 : 0));
    this.fill();
  }

  /** Moves the next queued byte into the output buffer if it is free. */
  private fill(): void {
    if (!(this.status & STAT_OBF) && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.outputByte = next & 0xff;
      this.status |= STAT_OBF | (next & 0x100 ? STAT_MOUSE_OBF : 0);
    }
    this.updateIrq();
  }

  private updateIrq(): void {
    let kbd = false, mouse = false;
    this.outport &= ~(OUT_OBF | OUT_MOUSE_OBF);
    if (this.status & STAT_OBF) {
      if (this.status & STAT_MOUSE_OBF) {
        this.outport |= OUT_MOUSE_OBF;
        mouse = (this.mode & MODE_MOUSE_INT) !== 0;
      } else {
        this.outport |= OUT_OBF;
        kbd = (this.mode & MODE_KBD_INT) !== 0;
      }
    }
    if (kbd !== this.irq1) this.onIrq(1, (this.irq1 = kbd));
    if (mouse !== this.irq12) this.onIrq(12, (this.irq12 = mouse));
  }

  private command(value: number): void {
    if ((value & 0xf0) === 0xf0) {
      // Pulse output-port bits: bit 0 low pulses the reset line.
      if (!(value & 1)) this.onReset();
      return;
    }
    switch (value) {
      case 0x20: this.enqueue(this.mode); break;
      case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4: this.pendingCommand = value; break;
      case 0xa7: this.mode |= MODE_DISABLE_MOUSE; break;
      case 0xa8: this.mode &= ~MODE_DISABLE_MOUSE; break;
      case 0xa9: this.enqueue(0x00); break;
      case 0xaa: this.status |= STAT_SELFTEST; this.enqueue(0x55); break;
      case 0xab: this.enqueue(0x00); break;
      case 0xad: this.mode |= MODE_DISABLE_KBD; this.updateIrq(); break;
      case 0xae: this.mode &= ~MODE_DISABLE_KBD; this.updateIrq(); break;
      case 0xc0: this.enqueue(0x80); break;
      case 0xd0: this.enqueue(this.outport); break;
      case 0xdd: this.outport &= ~OUT_A20; break;
      case 0xdf: this.outport |= OUT_A20; break;
      default: break;
    }
  }

  private data(value: number): void {
    const command = this.pendingCommand;
    this.pendingCommand = 0;
    switch (command) {
      case 0x60: this.mode = value; this.updateIrq(); break;
      case 0xd1:
        this.outport = value;
        if (!(value & OUT_RESET)) this.onReset();
        break;
      case 0xd2: this.enqueue(value); break;
      case 0xd3: this.enqueue(value, true); break;
      case 0xd4: this.deviceCommand(value, true); break;
      default: this.deviceCommand(value, false); break;
    }
  }

  /** A byte for the keyboard (or mouse): an ACK, plus the replies of reset, echo and identify. */
  private deviceCommand(value: number, mouse: boolean): void {
    if (this.deviceParameter !== 0 && !mouse) {
      this.deviceParameter = 0;
      this.enqueue(ACK);
      return;
    }
    if (!mouse && value === 0xee) {
      this.enqueue(0xee);
      return;
    }
    this.enqueue(ACK, mouse);
    if (value === 0xff) {
      // reset: self-test passed (and the mouse's device ID)
      this.enqueue(0xaa, mouse);
      if (mouse) this.enqueue(0x00, true);
    } else if (value === 0xf2) {
      // identify: an MF2 keyboard, a standard mouse
      if (mouse) {
        this.enqueue(0x00, true);
      } else {
        this.enqueue(0xab);
        this.enqueue(0x83);
      }
    } else if (!mouse && (value === 0xed || value === 0xf0 || value === 0xf3)) {
      this.deviceParameter = value;
    }
  }
}
