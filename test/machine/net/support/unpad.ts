// QEMU pads frames to 60 bytes for NICs that need it (not virtio-net); the frame-level oracle's
// hub does, so its frames are cut back to the IPv4 total length before comparing. ARP replies
// keep slirp's own 64 bytes.
import { get16 } from "../../../../src/machine/net/wire/bytes.js";

export function unpad(frame: Uint8Array): Uint8Array {
  if (frame.length >= 34 && get16(frame, 12) === 0x0800) {
    const total = 14 + get16(frame, 16);
    if (total < frame.length) return frame.slice(0, total);
  }
  if (frame.length === 60 && get16(frame, 12) === 0x0806) return frame.slice(0, 42); // slirp's own ARP requests are 42 bytes
  return frame;
}
