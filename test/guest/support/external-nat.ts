// Our user-mode NAT as the network of a guest that real QEMU runs: QEMU's virtio-net-pci is
// plugged into a UDP socket netdev (one Ethernet frame per datagram, no slirp in QEMU), and this
// process answers it with a UserNetBackend. It lets a test reach a guest on QEMU through what only
// our NAT offers (hostfwd6: a host connection over IPv6 into the guest, which QEMU 7.2's own
// hostfwd cannot express), so QEMU's CPU and device and ours can be asked the same questions.
import { UserNetBackend, type UserNetOptions } from "../../../src/machine/net/slirp.js";
import { bindUdp, freeUdpPort } from "../../machine/net/support/qemu-slirp.js";

/** QEMU's default NIC address (the guest's MAC on both machines). */
const GUEST_MAC = Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

export interface ExternalNat {
  /** QEMU arguments that plug `-device virtio-net-pci` into this NAT */
  qemuArgs: string[];
  backend: UserNetBackend;
  close(): Promise<void>;
}

/** Starts the NAT on a UDP socket; QEMU, started with `qemuArgs`, sends its frames there. */
export async function startExternalNat(options: UserNetOptions = {}): Promise<ExternalNat> {
  const ours = await bindUdp();
  // QEMU binds its end itself
  const qemuPort = await freeUdpPort();

  const backend = new UserNetBackend(options);
  backend.attach({
    mac: GUEST_MAC,
    deliver: (frame) => {
      ours.send(frame, qemuPort, "127.0.0.1");
      return true;
    },
  });
  ours.on("message", (message) => backend.receiveFromGuest(new Uint8Array(message)));
  await backend.ready;
  return {
    qemuArgs: [
      "-netdev", `socket,id=n0,udp=127.0.0.1:${ours.address().port},localaddr=127.0.0.1:${qemuPort}`,
      "-device", "virtio-net-pci,netdev=n0",
    ],
    backend,
    close: async () => {
      backend.close();
      await new Promise<void>((resolve) => ours.close(() => resolve()));
    },
  };
}
