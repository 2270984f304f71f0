// QEMU's spellings on our command line. DESIGN.md §3's reference command runs unchanged with only
// the program name replaced:
//   qemu-system-x86_64 -accel tcg -machine q35 -m 512 -nodefaults -display none -serial stdio -no-reboot \
//     -kernel IMAGE -append "ARGS" -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
//     -netdev user,id=n0,hostfwd=tcp:127.0.0.1:8080-:80 -device virtio-net-pci,netdev=n0 \
//     -object filter-dump,id=f0,netdev=n0,file=F.pcap
// QEMU writes long options with one dash; commander wants two. normalizeQemuArgs rewrites the
// one-dash forms it knows before commander sees them (the two-dash forms work as they are), maps
// `-accel tcg|kvm` to our interp|jit as the design maps TCG and KVM, and turns `-kernel IMAGE`
// into the image argument. parseNetworkOptions then checks the network options as a whole: one
// clear error (exit status 2) for anything malformed, before the guest starts.
import { parseHostForward as parseRule, parseHostForward6 as parseRule6, type HostForward } from "../machine/net/hostfwd.js";
import { UsageError } from "./errors.js";

export type { HostForward };

/** QEMU options taking a value, by their one-dash spelling. */
const WITH_VALUE = new Set(["-accel", "-machine", "-M", "-display", "-serial", "-kernel", "-append", "-device", "-netdev", "-nic", "-object"]);
/** QEMU flags without a value. */
const FLAGS = new Set(["-nodefaults", "-no-reboot"]);

/**
 * Rewrites QEMU's one-dash option spellings into ours. Everything after `--`, and arguments that
 * are values of other options, are left alone.
 */
export function normalizeQemuArgs(argv: string[]): string[] {
  const out: string[] = [];
  let kernel: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      out.push(...argv.slice(i));
      break;
    }
    const [name, inline] = splitInline(arg);
    const dashed = name.startsWith("--") ? name.slice(1) : name;
    if (FLAGS.has(dashed)) {
      out.push(`-${dashed}`);
      continue;
    }
    if (!WITH_VALUE.has(dashed)) {
      out.push(arg);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${name}: expected a value`);
    switch (dashed) {
      case "-kernel":
        kernel = value;
        break;
      case "-accel": {
        const engine = value.split(",")[0];
        const mapped = engine === "tcg" ? "interp" : engine === "kvm" ? "jit" : engine;
        out.push("--accel", mapped);
        break;
      }
      case "-M":
        out.push("--machine", value);
        break;
      default:
        out.push(`-${dashed}`, value);
    }
  }
  if (kernel !== undefined) out.push(kernel);
  return out;
}

function splitInline(arg: string): [string, string | undefined] {
  if (!arg.startsWith("-")) return [arg, undefined];
  const equals = arg.indexOf("=");
  return equals > 0 ? [arg.slice(0, equals), arg.slice(equals + 1)] : [arg, undefined];
}

/** `-machine`, `-display`, `-serial`: only what this machine is. */
export function checkFixedOptions(options: { machine?: string; display?: string; serial?: string }): void {
  if (options.machine !== undefined) {
    const [type, ...properties] = options.machine.split(",");
    const machineType = type.startsWith("type=") ? type.slice(5) : type;
    if (machineType !== "q35" && machineType !== "pc-q35-7.2") throw new UsageError(`-machine ${options.machine}: only q35 is emulated`);
    for (const property of properties) {
      if (!/^accel=(tcg|kvm)$/.test(property)) throw new UsageError(`-machine ${options.machine}: property '${property}' is not supported`);
    }
  }
  if (options.display !== undefined && options.display !== "none") throw new UsageError(`-display ${options.display}: only none is supported (there is no display)`);
  if (options.serial !== undefined && options.serial !== "stdio") throw new UsageError(`-serial ${options.serial}: only stdio is supported`);
}

// ---- network options ---------------------------------------------------------------------------

export interface UserNetdev {
  id: string;
  hostForwards: HostForward[];
  restrict: boolean;
}

export interface NicSpec {
  netdev: string;
  mac: Uint8Array;
}

export interface PacketDump {
  netdev: string;
  file: string;
}

export interface NetworkOptions {
  netdevs: UserNetdev[];
  nics: NicSpec[];
  dumps: PacketDump[];
}

/** QEMU's default MAC for the first NIC, 52:54:00:12:34:56, and the next ones after it. */
function defaultMac(index: number): Uint8Array {
  return Uint8Array.from([0x52, 0x54, 0x00, 0x12, 0x34, 0x56 + index]);
}

/** "key=value,key=value" after a leading type; repeated keys (hostfwd) keep every value. */
function properties(spec: string, option: string): { type: string; values: Map<string, string[]> } {
  const [type, ...rest] = spec.split(",");
  const values = new Map<string, string[]>();
  for (const item of rest) {
    const equals = item.indexOf("=");
    if (equals <= 0) throw new UsageError(`${option} ${spec}: expected key=value, got '${item}'`);
    const key = item.slice(0, equals);
    values.set(key, [...(values.get(key) ?? []), item.slice(equals + 1)]);
  }
  return { type, values };
}

function only(values: Map<string, string[]>, key: string, option: string): string | undefined {
  const list = values.get(key);
  if (list === undefined) return undefined;
  if (list.length > 1) throw new UsageError(`${option}: '${key}' given twice`);
  return list[0];
}

function rejectUnknownKeys(values: Map<string, string[]>, allowed: string[], option: string): void {
  for (const key of values.keys()) {
    if (!allowed.includes(key)) throw new UsageError(`${option}: unknown property '${key}' (supported: ${allowed.join(", ")})`);
  }
}

/**
 * `hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport` (QEMU's), or with `ipv6` our
 * `hostfwd6=[tcp|udp]:[[hostaddr]]:hostport-[[guestaddr]]:guestport`: the NAT's own parsers
 * (src/machine/net/hostfwd.ts), their errors as usage errors.
 */
export function parseHostForward(rule: string, ipv6 = false): HostForward {
  let forward: HostForward;
  try {
    forward = ipv6 ? parseRule6(rule) : parseRule(rule);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  // the NAT takes port 0 (any free port) for tests; on the command line it means nothing useful
  if (forward.hostPort === 0) throw new UsageError(`${ipv6 ? "hostfwd6" : "hostfwd"}=${rule}: '0' is not a port (1..65535)`);
  return forward;
}

function parseMac(text: string, what: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(text)) throw new UsageError(`${what}: mac '${text}' is not like 52:54:00:12:34:56`);
  const mac = Uint8Array.from(text.split(":").map((byte) => parseInt(byte, 16)));
  if (mac[0] & 1) throw new UsageError(`${what}: mac '${text}' is a multicast address`);
  return mac;
}

function parseUserNetdev(type: string, values: Map<string, string[]>, option: string, id: string): UserNetdev {
  if (type !== "user") throw new UsageError(`${option}: only the user backend is supported, not '${type}'`);
  rejectUnknownKeys(values, ["id", "hostfwd", "hostfwd6", "restrict", "model"], option);
  const restrict = only(values, "restrict", option);
  if (restrict !== undefined && !["on", "off", "yes", "no"].includes(restrict)) throw new UsageError(`${option}: restrict=${restrict}: expected on or off`);
  // as QEMU words it: "-netdev user,...: Invalid host forwarding rule '...' (Bad host address)"
  const rules = (key: string, ipv6: boolean) => (values.get(key) ?? []).map((rule) => {
    try {
      return parseHostForward(rule, ipv6);
    } catch (error) {
      throw new UsageError(`${option}: ${(error as Error).message}`);
    }
  });
  return { id, hostForwards: [...rules("hostfwd", false), ...rules("hostfwd6", true)], restrict: restrict === "on" || restrict === "yes" };
}

/** Checks -netdev, -device, -nic and -object together (ids, references, duplicates). */
export function parseNetworkOptions(netdevSpecs: string[], deviceSpecs: string[], nicSpecs: string[], objectSpecs: string[]): NetworkOptions {
  const netdevs: UserNetdev[] = [];
  const nics: NicSpec[] = [];
  const dumps: PacketDump[] = [];
  for (const spec of netdevSpecs) {
    const { type, values } = properties(spec, "-netdev");
    const id = only(values, "id", `-netdev ${spec}`);
    if (!id) throw new UsageError(`-netdev ${spec}: an id= is required`);
    if (netdevs.some((n) => n.id === id)) throw new UsageError(`-netdev ${spec}: id '${id}' is used twice`);
    netdevs.push(parseUserNetdev(type, values, `-netdev ${spec}`, id));
  }
  for (const spec of deviceSpecs) {
    const { type, values } = properties(spec, "-device");
    const option = `-device ${spec}`;
    if (type === "isa-debug-exit") {
      // what the machine has anyway, at the reference command's address
      rejectUnknownKeys(values, ["iobase", "iosize"], option);
      const iobase = only(values, "iobase", option) ?? "0x501";
      const iosize = only(values, "iosize", option) ?? "0x02";
      if (Number(iobase) !== 0xf4 || Number(iosize) !== 4) throw new UsageError(`${option}: isa-debug-exit is at iobase=0xf4,iosize=0x04 on this machine`);
      continue;
    }
    if (type !== "virtio-net-pci") throw new UsageError(`${option}: device '${type}' is not supported (supported: virtio-net-pci, isa-debug-exit)`);
    rejectUnknownKeys(values, ["netdev", "mac", "id"], option);
    const netdev = only(values, "netdev", option);
    if (!netdev) throw new UsageError(`${option}: a netdev= is required`);
    const mac = only(values, "mac", option);
    nics.push({ netdev, mac: mac !== undefined ? parseMac(mac, option) : defaultMac(nics.length) });
  }
  for (const spec of nicSpecs) {
    const { type, values } = properties(spec, "-nic");
    const option = `-nic ${spec}`;
    const model = only(values, "model", option) ?? "virtio-net-pci";
    if (model !== "virtio-net-pci" && model !== "virtio") throw new UsageError(`${option}: model '${model}' is not supported (virtio-net-pci)`);
    const mac = only(values, "mac", option);
    values.delete("mac");
    const id = `__nic${nics.length}`;
    netdevs.push(parseUserNetdev(type, values, option, id));
    nics.push({ netdev: id, mac: mac !== undefined ? parseMac(mac, option) : defaultMac(nics.length) });
  }
  for (const spec of objectSpecs) {
    const { type, values } = properties(spec, "-object");
    const option = `-object ${spec}`;
    if (type !== "filter-dump") throw new UsageError(`${option}: object '${type}' is not supported (filter-dump)`);
    rejectUnknownKeys(values, ["id", "netdev", "file", "maxlen"], option);
    const netdev = only(values, "netdev", option);
    const file = only(values, "file", option);
    if (!netdev || !file) throw new UsageError(`${option}: netdev= and file= are required`);
    dumps.push({ netdev, file });
  }
  for (const nic of nics) {
    if (!netdevs.some((n) => n.id === nic.netdev)) throw new UsageError(`-device virtio-net-pci: netdev '${nic.netdev}' does not exist (give -netdev user,id=${nic.netdev})`);
  }
  const used = new Set<string>();
  for (const nic of nics) {
    if (used.has(nic.netdev)) throw new UsageError(`-device virtio-net-pci: netdev '${nic.netdev}' already has a device`);
    used.add(nic.netdev);
  }
  for (const dump of dumps) {
    if (!netdevs.some((n) => n.id === dump.netdev)) throw new UsageError(`-object filter-dump: netdev '${dump.netdev}' does not exist`);
  }
  for (const netdev of netdevs) {
    if (!used.has(netdev.id)) throw new UsageError(`-netdev user,id=${netdev.id}: no device uses it (add -device virtio-net-pci,netdev=${netdev.id})`);
  }
  if (nics.length > 1) throw new UsageError("only one network device is supported (00:01.0)");
  const forwards = netdevs.flatMap((n) => n.hostForwards);
  for (let i = 0; i < forwards.length; i++) {
    for (let j = i + 1; j < forwards.length; j++) {
      const a = forwards[i], b = forwards[j];
      // hostfwd6 listens on IPv6 only: it shares port numbers with hostfwd
      if (a.ipv6 !== b.ipv6) continue;
      const any = a.ipv6 ? "::" : "0.0.0.0";
      if (a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostAddress === b.hostAddress || a.hostAddress === any || b.hostAddress === any)) {
        throw new UsageError(`${a.ipv6 ? "hostfwd6" : "hostfwd"}: host port ${a.protocol}:${a.hostPort} is forwarded twice`);
      }
    }
  }
  return { netdevs, nics, dumps };
}
