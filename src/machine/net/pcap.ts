// A pcap capture of every frame between the device and the NAT (QEMU's `-object filter-dump`):
// the classic libpcap format, link type Ethernet, microsecond timestamps, snap length 65535.
// Frames are buffered and written in batches (and at least every half second, so a capture can be
// read while the guest runs); close() writes the rest.
import { closeSync, openSync, writeSync } from "node:fs";

const LINKTYPE_ETHERNET = 1;
const SNAPLEN = 65535;
const FLUSH_BYTES = 256 * 1024;
const FLUSH_MS = 500;

export class PcapWriter {
  private fd: number | null;
  private buffer = Buffer.alloc(FLUSH_BYTES + 16 + SNAPLEN);
  private used = 0;
  private timer: NodeJS.Timeout | null = null;
  /** frames written (and, after a write error, frames lost) */
  frames = 0;
  failed = false;

  /** Opens (truncates) `path`; throws a clear error when it cannot. */
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, "w");
    } catch (error) {
      throw new Error(`cannot open the capture file ${path}: ${(error as Error).message}`);
    }
    const header = Buffer.alloc(24);
    header.writeUInt32LE(0xa1b2c3d4, 0);
    header.writeUInt16LE(2, 4);
    header.writeUInt16LE(4, 6);
    header.writeInt32LE(0, 8);
    header.writeUInt32LE(0, 12);
    header.writeUInt32LE(SNAPLEN, 16);
    header.writeUInt32LE(LINKTYPE_ETHERNET, 20);
    this.writeOut(header);
  }

  write(frame: Uint8Array, timeMs = performance.timeOrigin + performance.now()): void {
    if (this.fd === null) return;
    const captured = Math.min(frame.length, SNAPLEN);
    if (this.used + 16 + captured > this.buffer.length) this.flush();
    const seconds = Math.floor(timeMs / 1000);
    const micros = Math.min(999_999, Math.floor((timeMs - seconds * 1000) * 1000));
    this.buffer.writeUInt32LE(seconds >>> 0, this.used);
    this.buffer.writeUInt32LE(micros, this.used + 4);
    this.buffer.writeUInt32LE(captured, this.used + 8);
    this.buffer.writeUInt32LE(frame.length, this.used + 12);
    this.buffer.set(frame.subarray(0, captured), this.used + 16);
    this.used += 16 + captured;
    this.frames++;
    if (this.used >= FLUSH_BYTES) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.flush();
      }, FLUSH_MS);
      this.timer.unref();
    }
  }

  private writeOut(bytes: Uint8Array): void {
    if (this.fd === null) return;
    try {
      let offset = 0;
      while (offset < bytes.length) offset += writeSync(this.fd, bytes, offset, bytes.length - offset);
    } catch {
      // a full disk must not stop the guest: the capture ends here
      this.failed = true;
      try {
        closeSync(this.fd);
      } catch {
        // ignore
      }
      this.fd = null;
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.used === 0) return;
    this.writeOut(this.buffer.subarray(0, this.used));
    this.used = 0;
  }

  close(): void {
    this.flush();
    if (this.fd !== null) {
      try {
        closeSync(this.fd);
      } catch {
        // ignore
      }
      this.fd = null;
    }
  }
}
