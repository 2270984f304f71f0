// The device side of the NetBackend boundary for tests: collects what the NAT delivers, can refuse
// frames (no receive buffer posted), counts wake() calls, and waits for frames with a timeout.
import type { NetDevicePort } from "../../../../src/machine/net/backend.js";
import { GUEST_MAC } from "./frames.js";

export class FakeDevice implements NetDevicePort {
  readonly mac = GUEST_MAC;
  readonly frames: Uint8Array[] = [];
  accepting = true;
  wakes = 0;
  /** frames delivered, kept or not */
  delivered = 0;
  /** which frames to keep (all by default; a long fuzz run keeps only the ones it reads) */
  keep: (frame: Uint8Array) => boolean = () => true;
  /** called after every delivered frame (synchronously: a listener must not call back into the NAT) */
  readonly listeners = new Set<() => void>();
  private readonly waiters = new Set<() => void>();

  deliver(frame: Uint8Array): boolean {
    if (!this.accepting) return false;
    this.delivered++;
    if (!this.keep(frame)) return true;
    this.frames.push(frame.slice());
    for (const waiter of [...this.waiters]) waiter();
    for (const listener of this.listeners) listener();
    return true;
  }

  wake = (): void => {
    this.wakes++;
  };

  /** the first frame from index `from` on that matches, or null after `timeoutMs` */
  waitFor(match: (frame: Uint8Array) => boolean, timeoutMs = 3000, from = 0): Promise<Uint8Array | null> {
    return new Promise((resolve) => {
      let index = from;
      const check = () => {
        for (; index < this.frames.length; index++) {
          if (match(this.frames[index])) {
            finish(this.frames[index]);
            return;
          }
        }
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (frame: Uint8Array | null) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(frame);
      };
      this.waiters.add(check);
      check();
    });
  }
}
