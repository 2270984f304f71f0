// Real QEMU 7.2's libslirp as an oracle at the frame level: QEMU runs with no CPU (-machine none),
// its user-mode netdev joined by a hub to a UDP socket netdev, so this process sends Ethernet frames
// to slirp and receives slirp's frames as UDP datagrams (one frame each), exactly what a NIC would.
// The same frames can then be fed to our NAT and the replies compared.
import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { hostHas } from "../../../support/host-tools.js";

export const hasQemu = hostHas("qemu-system-x86_64");

export interface QemuSlirp {
  send(frame: Uint8Array): void;
  /** every frame slirp sent so far, in order */
  frames: Uint8Array[];
  /** resolves with the first frame (from `from` on) matching `match`, or null after `timeoutMs` */
  waitFor(match: (frame: Uint8Array) => boolean, timeoutMs?: number, from?: number): Promise<Uint8Array | null>;
  close(): Promise<void>;
}

/** A UDP socket bound to a free port on 127.0.0.1. */
export function bindUdp(): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket("udp4");
    socket.once("error", reject);
    socket.bind(0, "127.0.0.1", () => resolve(socket));
  });
}

/** A UDP port free on 127.0.0.1 (bound and released). */
export async function freeUdpPort(): Promise<number> {
  const socket = await bindUdp();
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** Starts QEMU; `netdevOptions` are appended to `user,id=u0` (e.g. ",restrict=on", ",hostfwd=..."). */
export async function startQemuSlirp(netdevOptions = "", pcap?: string): Promise<QemuSlirp> {
  const ours = await bindUdp();
  const qemuPort = await freeUdpPort();
  const args = [
    "-machine", "none", "-nodefaults", "-display", "none", "-monitor", "none", "-serial", "none",
    "-netdev", `user,id=u0${netdevOptions}`, "-netdev", "hubport,id=hp0,hubid=0,netdev=u0",
    "-netdev", `socket,id=s0,udp=127.0.0.1:${ours.address().port},localaddr=127.0.0.1:${qemuPort}`,
    "-netdev", "hubport,id=hp1,hubid=0,netdev=s0",
  ];
  if (pcap) args.push("-object", `filter-dump,id=f0,netdev=u0,file=${pcap}`);
  const child: ChildProcess = spawn("qemu-system-x86_64", args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const frames: Uint8Array[] = [];
  const waiters = new Set<() => void>();
  ours.on("message", (message) => {
    frames.push(new Uint8Array(message));
    for (const waiter of [...waiters]) waiter();
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const send = (frame: Uint8Array) => ours.send(frame, qemuPort, "127.0.0.1");
  const waitFor = (match: (frame: Uint8Array) => boolean, timeoutMs = 3000, from = 0): Promise<Uint8Array | null> =>
    new Promise((resolve) => {
      let index = from;
      const check = () => {
        for (; index < frames.length; index++) {
          if (match(frames[index])) {
            finish(frames[index]);
            return;
          }
        }
      };
      const timer = setTimeout(() => finish(null), timeoutMs);
      const finish = (frame: Uint8Array | null) => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve(frame);
      };
      waiters.add(check);
      check();
    });
  // QEMU is up once its socket netdev is bound: probe until an ARP request for .2 is answered
  const probe = Uint8Array.from([
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06,
    0, 1, 8, 0, 6, 4, 0, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2,
  ]);
  for (let attempt = 0; attempt < 50; attempt++) {
    send(probe);
    if (await waitFor((frame) => frame[12] === 8 && frame[13] === 6, 100)) break;
    if (child.exitCode !== null) throw new Error(`qemu exited: ${stderr}`);
  }
  frames.length = 0;
  return {
    send,
    frames,
    waitFor,
    close: async () => {
      child.kill("SIGTERM");
      await exited;
      ours.close();
    },
  };
}
