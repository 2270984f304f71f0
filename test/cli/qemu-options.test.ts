// QEMU's spellings on our command line (src/cli/qemu-options.ts): DESIGN.md §3's reference command
// runs with only the program name replaced, and every malformed or unsupported network, device or
// machine option is one error line with exit status 2 before the guest starts.
import { describe, expect, it } from "vitest";
import { normalizeQemuArgs, parseHostForward, parseNetworkOptions } from "../../src/cli/qemu-options.js";
import { runInProcess } from "./run-cli.js";
import { canBuildGuest, guestImage } from "../jit/support/guest-image.js";

describe("QEMU's command line", () => {
  it("rewrites one-dash options, maps -accel tcg/kvm to interp/jit and -kernel to the image", () => {
    expect(normalizeQemuArgs(["-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-kernel", "k.elf", "-append", "bench x=1"]))
      .toEqual(["--accel", "interp", "--machine", "q35", "-m", "512", "--nodefaults", "--append", "bench x=1", "k.elf"]);
    expect(normalizeQemuArgs(["-accel", "kvm", "-no-reboot", "-display", "none", "-serial", "stdio"]))
      .toEqual(["--accel", "jit", "--no-reboot", "--display", "none", "--serial", "stdio"]);
    expect(normalizeQemuArgs(["--netdev", "user,id=n0", "-device=virtio-net-pci,netdev=n0"]))
      .toEqual(["--netdev", "user,id=n0", "--device", "virtio-net-pci,netdev=n0"]);
  });

  it("parses hostfwd rules as QEMU does", () => {
    expect(parseHostForward("tcp:127.0.0.1:8080-:80")).toEqual({ protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 8080, guestAddress: "", guestPort: 80 });
    expect(parseHostForward("udp::5353-10.0.2.15:53")).toEqual({ protocol: "udp", hostAddress: "0.0.0.0", hostPort: 5353, guestAddress: "10.0.2.15", guestPort: 53 });
    expect(parseHostForward("::2222-:22").protocol).toBe("tcp");
    // QEMU 7.2 reads ":2222-:22" as protocol "" and host address "2222-" (measured: "Bad host address")
    expect(() => parseHostForward(":2222-:22")).toThrow("Invalid host forwarding rule ':2222-:22' (Bad host address)");
    for (const bad of ["tcp:127.0.0.1:80", "tcp:1.2.3:80-:80", "sctp::80-:80", "tcp::80-:x"]) {
      expect(() => parseHostForward(bad), bad).toThrow(/^Invalid host forwarding rule/);
    }
    expect(() => parseHostForward("tcp:127.0.0.1:0-:80")).toThrow(/'0' is not a port/);
  });

  it("parses our hostfwd6 rules, which may share a port number with a hostfwd rule but not with each other", () => {
    expect(parseHostForward("tcp:[::1]:8080-:80", true)).toEqual({ protocol: "tcp", hostAddress: "::1", hostPort: 8080, guestAddress: "", guestPort: 80, ipv6: true });
    const options = parseNetworkOptions(["user,id=n0,hostfwd=tcp::8080-:80,hostfwd6=tcp:[::1]:8080-[fec0::15]:80"], ["virtio-net-pci,netdev=n0"], [], []);
    expect(options.netdevs[0].hostForwards.map((rule) => [rule.hostAddress, rule.ipv6 === true])).toEqual([["0.0.0.0", false], ["::1", true]]);
    expect(() => parseNetworkOptions(["user,id=n0,hostfwd6=tcp::8080-:80,hostfwd6=tcp:[::1]:8080-:81"], ["virtio-net-pci,netdev=n0"], [], [])).toThrow(/hostfwd6: host port tcp:8080 is forwarded twice/);
  });

  it("ties devices to netdevs and captures to netdevs, with QEMU's default MAC", () => {
    const options = parseNetworkOptions(["user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80,restrict=on"], ["virtio-net-pci,netdev=n0", "isa-debug-exit,iobase=0xf4,iosize=0x04"], [], ["filter-dump,id=f0,netdev=n0,file=x.pcap"]);
    expect(options.nics).toEqual([{ netdev: "n0", mac: Uint8Array.from([0x52, 0x54, 0, 0x12, 0x34, 0x56]) }]);
    expect(options.netdevs[0].restrict).toBe(true);
    expect(options.dumps).toEqual([{ netdev: "n0", file: "x.pcap" }]);
    const nic = parseNetworkOptions([], [], ["user,model=virtio-net-pci,hostfwd=tcp::8080-:80,mac=52:54:00:aa:bb:cc"], []);
    expect(nic.nics[0].mac).toEqual(Uint8Array.from([0x52, 0x54, 0, 0xaa, 0xbb, 0xcc]));
    expect(nic.netdevs[0].hostForwards[0].hostPort).toBe(8080);
  });

  const malformed: Array<[string[], RegExp]> = [
    [["--netdev", "user,id=n0"], /no device uses it/],
    [["--device", "virtio-net-pci,netdev=zz"], /netdev 'zz' does not exist/],
    [["--netdev", "user,id=n0", "--netdev", "user,id=n0", "--device", "virtio-net-pci,netdev=n0"], /used twice/],
    [["--netdev", "user,id=n0", "--device", "virtio-net-pci,netdev=n0", "--device", "virtio-net-pci,netdev=n0"], /already has a device/],
    [["--netdev", "user,id=n0,hostfwd=tcp:127.0.0.1:99999-:80", "--device", "virtio-net-pci,netdev=n0"], /\(Bad host port\)/],
    [["--netdev", "user,id=n0,hostfwd=tcp::8080-:80,hostfwd=tcp::8080-:81", "--device", "virtio-net-pci,netdev=n0"], /forwarded twice/],
    [["--netdev", "tap,id=n0", "--device", "virtio-net-pci,netdev=n0"], /only the user backend/],
    [["--netdev", "user,id=n0,bogus=1", "--device", "virtio-net-pci,netdev=n0"], /unknown property 'bogus'/],
    [["--device", "virtio-net-pci,netdev=n0,mac=01:00:00:00:00:01", "--netdev", "user,id=n0"], /multicast/],
    [["--device", "e1000"], /not supported/],
    [["--device", "isa-debug-exit,iobase=0x501,iosize=0x02"], /iobase=0xf4/],
    [["--object", "filter-dump,id=f,netdev=q,file=x"], /netdev 'q' does not exist/],
    [["--object", "memory-backend-ram,id=m"], /not supported/],
    [["-machine", "pc"], /only q35/],
    [["-display", "gtk"], /only none/],
    [["-serial", "pty"], /only stdio/],
    // QEMU 7.2's own words for its IPv6-looking rules (measured), after the option as QEMU prints it
    [["-netdev", "user,id=n0,hostfwd=tcp:[::1]:18080-[fec0::15]:80", "-device", "virtio-net-pci,netdev=n0"], /^error: -netdev user,id=n0,hostfwd=tcp:\[::1\]:18080-\[fec0::15\]:80: Invalid host forwarding rule 'tcp:\[::1\]:18080-\[fec0::15\]:80' \(Bad host address\)\n$/],
    [["-netdev", "user,id=n0,hostfwd=tcp:[::1]:18080-:80", "-device", "virtio-net-pci,netdev=n0"], /Invalid host forwarding rule 'tcp:\[::1\]:18080-:80' \(Bad host address\)\n$/],
    [["-netdev", "user,id=n0,hostfwd=tcp6::18080-:80", "-device", "virtio-net-pci,netdev=n0"], /Invalid host forwarding rule 'tcp6::18080-:80' \(Bad protocol name\)\n$/],
    [["-netdev", "user,id=n0,hostfwd6=tcp:[::1:18080-:80", "-device", "virtio-net-pci,netdev=n0"], /Invalid IPv6 host forwarding rule 'tcp:\[::1:18080-:80' \(Missing : separator\)\n$/],
  ];
  for (const [args, message] of malformed) {
    it.runIf(canBuildGuest)(`${args.join(" ")}: one error line, status 2`, async () => {
      const result = await runInProcess([guestImage(), ...args, "--timeout", "1"]);
      expect(result.status).toBe(2);
      expect(result.stderr).toMatch(/^error: [^\n]+\n$/);
      expect(result.stderr).toMatch(message);
    });
  }

  it.runIf(canBuildGuest)("runs DESIGN.md §3's reference command with only the program name replaced", async () => {
    const result = await runInProcess([
      "-accel", "tcg", "-machine", "q35", "-m", "512", "-nodefaults", "-display", "none", "-serial", "stdio", "-no-reboot",
      "-kernel", guestImage(), "-append", "bench ncommits=2 depth=2 tree_add=2", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
      "--clock", "virtual",
    ]);
    expect(result.stderr).toBe("");
    expect(result.status).toBe(1);
    expect(result.stdout).toContain("[run done]");
  }, 120_000);
});
