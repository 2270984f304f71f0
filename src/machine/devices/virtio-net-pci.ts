// virtio-net-pci as QEMU 7.2 shows it at 00:01.0 of `-machine q35 -nodefaults` with
// `-netdev user,id=n0 -device virtio-net-pci,netdev=n0`: a transitional device (1af4:1000) with the
// legacy interface in BAR0 (I/O), MSI-X in BAR1 and the modern virtio 1.x structures in BAR4.
//
// Configuration space, the registers behind the BARs and their write rules were read back from real
// QEMU by test/fixtures/guest/probe.c (test/machine/devices/q35-probe.test.ts compares the probe's
// output on QEMU and on this model byte for byte); the behaviour follows QEMU's hw/virtio/
// virtio-pci.c, hw/virtio/virtio.c, hw/pci/msix.c and hw/net/virtio-net.c with a backend that has
// no vnet header (slirp's):
//  - features: legacy 0x79bf8064 (MAC, GSO, MRG_RXBUF, STATUS, CTRL_VQ/RX/VLAN/RX_EXTRA,
//    GUEST_ANNOUNCE, CTRL_MAC_ADDR, CTRL_GUEST_OFFLOADS, NOTIFY_ON_EMPTY, ANY_LAYOUT, INDIRECT_DESC,
//    EVENT_IDX, BAD_FEATURE); modern adds VERSION_1 and RING_RESET and hides GSO, NOTIFY_ON_EMPTY,
//    ANY_LAYOUT and BAD_FEATURE. Queues rx 256, tx 256, ctrl 64.
//  - device status and resets as QEMU: status 0 (or a legacy queue PFN of 0) resets the device and
//    its queues; ACKNOWLEDGE|DRIVER through the legacy register switches bus mastering on; a
//    configuration write that leaves bus mastering off drops DRIVER_OK and stops the rings (the
//    firmware leaves it off, so a driver that neither resets nor enables bus mastering gets nothing).
//  - receive: frames go into posted buffers after a zeroed virtio-net header (10 bytes, or 12 with
//    MRG_RXBUF or VERSION_1; num_buffers filled in with MRG_RXBUF); a frame larger than the buffer
//    without MRG_RXBUF is dropped and the buffer stays posted, as QEMU does. Receive filtering
//    (promiscuous by default; CTRL_RX modes, MAC table, VLAN table) as QEMU.
//  - transmit: on a notify every available chain is read, its header skipped, the frame handed to
//    the backend and the chain returned with used length 0.
//  - control queue: RX mode, MAC table/address and VLAN commands are applied; ANNOUNCE, MQ and
//    GUEST_OFFLOADS answer VIRTIO_NET_ERR, exactly as QEMU does with a user-mode backend.
//  - interrupts: INTx pin A, level = ISR bit 0 (as QEMU's virtio_pci_notify), lowered by an ISR
//    read, masked by the command register's INTx-disable bit, reported in the status register.
//    MSI-X is presented as QEMU presents it (4 vectors, table, PBA, vector registers); this machine
//    has no local APIC, so a message aimed at one is not delivered: the device logs one line.
//  - malformed rings (virtqueue.ts): the device is broken (DEVICE_NEEDS_RESET for a VERSION_1
//    driver, with a configuration interrupt), logs one line and does nothing more until reset.
//
// MMIO accesses are treated as QEMU's TCG issues them: an unaligned read is two aligned reads of
// the same size combined, an unaligned write is byte writes; I/O port accesses that are unaligned
// are invalid (read 0, write ignored). The expansion ROM BAR is configuration space only (QEMU's
// iPXE ROM is not modelled).
import type { PortBus, PortDevice } from "../io-bus.js";
import { PHYSICAL_LIMIT, type AccessSize, type MmioDevice, type PhysicalMemory } from "../memory.js";
import type { NetBackend, NetDevicePort } from "../net/backend.js";
import { PciFunction } from "./pci.js";
import { Chain, Virtqueue, VIRTIO_NO_VECTOR, VIRTQUEUE_MAX_SIZE, type VirtqueueHost } from "./virtqueue.js";

// ---- feature bits ----------------------------------------------------------------------------
export const VIRTIO_NET_F_CSUM = 1 << 0;
export const VIRTIO_NET_F_CTRL_GUEST_OFFLOADS = 1 << 2;
export const VIRTIO_NET_F_MAC = 1 << 5;
export const VIRTIO_NET_F_GSO = 1 << 6;
export const VIRTIO_NET_F_HOST_TSO4 = 1 << 11;
export const VIRTIO_NET_F_HOST_TSO6 = 1 << 12;
export const VIRTIO_NET_F_HOST_ECN = 1 << 13;
export const VIRTIO_NET_F_MRG_RXBUF = 1 << 15;
export const VIRTIO_NET_F_STATUS = 1 << 16;
export const VIRTIO_NET_F_CTRL_VQ = 1 << 17;
export const VIRTIO_NET_F_CTRL_RX = 1 << 18;
export const VIRTIO_NET_F_CTRL_VLAN = 1 << 19;
export const VIRTIO_NET_F_CTRL_RX_EXTRA = 1 << 20;
export const VIRTIO_NET_F_GUEST_ANNOUNCE = 1 << 21;
export const VIRTIO_NET_F_CTRL_MAC_ADDR = 1 << 23;
export const VIRTIO_F_NOTIFY_ON_EMPTY = 1 << 24;
export const VIRTIO_F_ANY_LAYOUT = 1 << 27;
export const VIRTIO_RING_F_INDIRECT_DESC = 1 << 28;
export const VIRTIO_RING_F_EVENT_IDX = 1 << 29;
export const VIRTIO_F_BAD_FEATURE = 1 << 30;
/** high dword */
export const VIRTIO_F_VERSION_1 = 1 << 0;
export const VIRTIO_F_RING_RESET = 1 << 8;

/** The device features QEMU 7.2 offers with -netdev user (low and high dwords). */
export const HOST_FEATURES_LO = 0x79bf8064;
export const HOST_FEATURES_HI = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_RESET;
/** Features only the legacy interface shows (QEMU's legacy_features + the transport's BAD_FEATURE). */
const LEGACY_ONLY_FEATURES = VIRTIO_NET_F_GSO | VIRTIO_F_NOTIFY_ON_EMPTY | VIRTIO_F_ANY_LAYOUT | VIRTIO_F_BAD_FEATURE;
/** What a legacy driver that sets BAD_FEATURE gets (QEMU's virtio_net_bad_features, before masking). */
const BAD_FEATURES = VIRTIO_NET_F_MAC | VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 | VIRTIO_NET_F_HOST_ECN;

// ---- device status ---------------------------------------------------------------------------
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

export const RX_QUEUE = 0;
export const TX_QUEUE = 1;
export const CTRL_QUEUE = 2;
const QUEUE_SIZES = [256, 256, 64];
/** QEMU's VIRTIO_QUEUE_MAX: queue selectors and vectors exist for this many queues */
const QUEUE_MAX = 1024;
/** QEMU's default tx_burst */
const TX_BURST = 256;
/** QEMU hands a backend at most NET_BUFSIZE bytes of a frame (it truncates; we drop) */
export const MAX_TX_FRAME = 4096 + 65536;
const MSIX_VECTORS = 4;
const MAC_TABLE_ENTRIES = 64;
const NET_S_LINK_UP = 1;
/** virtio-net config space: mac[6], status (QEMU's config_size with MAC and STATUS) */
const CONFIG_LEN = 8;

// ---- BARs --------------------------------------------------------------------------------------
const BAR0_SIZE = 32;
const BAR1_SIZE = 0x1000;
const BAR4_SIZE = 0x4000;
const PCI_COMMAND_IO = 1;
const PCI_COMMAND_MEMORY = 2;
const PCI_COMMAND_MASTER = 4;
const PCI_COMMAND_INTX_DISABLE = 0x400;
const PCI_STATUS_INTERRUPT = 0x08;
const MSIX_CAP = 0x98;
const PCI_CFG_CAP = 0x84;
const PCI_CFG_DATA = PCI_CFG_CAP + 16;

/** QEMU's default MAC for the first NIC. */
export const DEFAULT_MAC = Uint8Array.of(0x52, 0x54, 0x00, 0x12, 0x34, 0x56);

/** Configuration space as SeaBIOS leaves it with the NIC at 00:01.0 (read back from QEMU 7.2). */
const CONFIG_ROWS: Array<[number, string]> = [
  [0x00, "f4 1a 00 10 03 01 10 00 00 00 00 02 00 00 00 00"],
  [0x10, "41 c0 00 00 00 00 bc fe 00 00 00 00 00 00 00 00"],
  [0x20, "0c c0 bf fe 00 00 00 00 00 00 00 00 f4 1a 01 00"],
  [0x30, "00 00 b8 fe 98 00 00 00 00 00 00 00 0a 01 00 00"],
  [0x40, "09 00 10 01 04 00 00 00 00 00 00 00 00 10 00 00"], // common cfg: BAR4 0x0000, 4 KiB
  [0x50, "09 40 10 03 04 00 00 00 00 10 00 00 00 10 00 00"], // ISR: BAR4 0x1000
  [0x60, "09 50 10 04 04 00 00 00 00 20 00 00 00 10 00 00"], // device cfg: BAR4 0x2000
  [0x70, "09 60 14 02 04 00 00 00 00 30 00 00 00 10 00 00"], // notify: BAR4 0x3000, multiplier 4
  [0x80, "04 00 00 00 09 70 14 05 00 00 00 00 00 00 00 00"], // pci_cfg access
  [0x90, "00 00 00 00 00 00 00 00 11 84 03 00 01 00 00 00"], // MSI-X: 4 vectors, table BAR1 0
  [0xa0, "01 08 00 00 00 00 00 00 00 00 00 00 00 00 00 00"], // PBA: BAR1 0x800
];

/** Counters for tests and diagnostics. */
export interface VirtioNetStats {
  txFrames: number;
  txBytes: number;
  /** transmit chains whose frame was empty or larger than MAX_TX_FRAME */
  txDropped: number;
  rxFrames: number;
  rxBytes: number;
  /** frames dropped for a too-small buffer (no MRG_RXBUF) */
  rxDropped: number;
  /** frames the receive filter rejected */
  rxFiltered: number;
  /** times the device marked itself broken */
  errors: number;
  interrupts: number;
}

export interface VirtioNetOptions {
  memory: PhysicalMemory;
  ports: PortBus;
  /** the backend frames go to and come from (attached at once) */
  backend?: NetBackend | null;
  /** the MAC address (default 52:54:00:12:34:56, QEMU's) */
  mac?: Uint8Array;
  /** one line per event worth reporting (device broken, MSI-X, BAR conflicts); default: stderr */
  log?: (line: string) => void;
  /** PCI bus/device/function (default 00:01.0) */
  device?: number;
}

/** Lines the device logs at most; then one line says the rest are suppressed. */
const MAX_LOG_LINES = 20;

function maskToSize(value: number, size: number): number {
  return size === 1 ? value & 0xff : size === 2 ? value & 0xffff : value >>> 0;
}

export class VirtioNetPci extends PciFunction implements NetDevicePort, VirtqueueHost {
  readonly memory: PhysicalMemory;
  readonly queues: Virtqueue[];
  /** INTx (pin A) line level changes; the machine routes it to the PIC */
  onIntx: (level: boolean) => void = () => {};
  readonly stats: VirtioNetStats = { txFrames: 0, txBytes: 0, txDropped: 0, rxFrames: 0, rxBytes: 0, rxDropped: 0, rxFiltered: 0, errors: 0, interrupts: 0 };

  private readonly ports: PortBus;
  private backend: NetBackend | null = null;
  private readonly logSink: (line: string) => void;
  private logLines = 0;
  private msixLogged = false;

  // virtio device state (VirtIODevice)
  status = 0;
  isr = 0;
  guestFeaturesLo = 0;
  guestFeaturesHi = 0;
  queueSel = 0;
  configVector = VIRTIO_NO_VECTOR;
  generation = 0;
  broken = false;
  /** bus mastering switched off by a configuration write (QEMU's vdev->disabled); SeaBIOS left it so */
  disabled = true;
  private readonly vectors = new Uint16Array(QUEUE_MAX).fill(VIRTIO_NO_VECTOR);
  private readonly configShadow = new Uint8Array(CONFIG_LEN);

  // the PCI proxy (VirtIOPCIProxy): modern register copies
  private dfselect = 0;
  private gfselect = 0;
  private readonly gfRaw = new Uint32Array(2);
  private readonly qNum = new Uint16Array(QUEUE_MAX);
  private readonly qEnabled = new Uint8Array(QUEUE_MAX);
  /** desc lo/hi, avail lo/hi, used lo/hi per queue */
  private readonly qAddr = new Uint32Array(QUEUE_MAX * 6);

  // virtio-net state (VirtIONet)
  /** the MAC the guest sees (config space; changed by the driver) and the configured one */
  readonly mac: Uint8Array;
  private readonly configuredMac: Uint8Array;
  private mergeable = false;
  private guestHdrLen = 10;
  private promisc = true;
  private allmulti = false;
  private alluni = false;
  private nomulti = false;
  private nouni = false;
  private nobcast = false;
  private readonly macTable = new Uint8Array(MAC_TABLE_ENTRIES * 6);
  private macInUse = 0;
  private macFirstMulti = 0;
  private uniOverflow = false;
  private multiOverflow = false;
  private readonly vlans = new Uint32Array(128);

  // PCI INTx and MSI-X
  private intxState = false;
  private intxLine = false;
  private functionMasked = true;
  private readonly msixTable = new Uint8Array(MSIX_VECTORS * 16);
  private readonly msixTableView = new DataView(this.msixTable.buffer);
  private msixPending = 0;
  private readonly msixUsed = new Uint32Array(MSIX_VECTORS);

  // BAR mappings (-1: unmapped)
  private ioBase = -1;
  private msixBase = -1;
  private modernBase = -1;
  private readonly legacyPorts: PortDevice;
  private readonly msixMmio: MmioDevice;
  private readonly modernMmio: MmioDevice;

  /** one chain object per path: a backend may deliver a frame from inside receiveFromGuest */
  private readonly txChain = new Chain();
  private readonly rxChain = new Chain();
  private readonly ctrlChain = new Chain();
  private txScratch = new Uint8Array(2048);
  private readonly zeroHeader = new Uint8Array(12);
  /** the receive path's popped chains (heads, lengths) for MRG_RXBUF */
  private readonly rxHeads = new Uint16Array(VIRTQUEUE_MAX_SIZE);
  private readonly rxLens = new Uint32Array(VIRTQUEUE_MAX_SIZE);

  constructor(options: VirtioNetOptions) {
    super(options.device ?? 1, 0);
    this.memory = options.memory;
    this.ports = options.ports;
    this.logSink = options.log ?? ((line) => void process.stderr.write(line + "\n"));
    const mac = options.mac ?? DEFAULT_MAC;
    if (mac.length !== 6) throw new RangeError(`a MAC address has 6 bytes, got ${mac.length}`);
    this.configuredMac = Uint8Array.from(mac);
    this.mac = Uint8Array.from(mac);
    this.queues = QUEUE_SIZES.map((size, index) => new Virtqueue(index, size, this));
    this.initConfigSpace();
    this.legacyPorts = {
      in: (port, size) => this.legacyRead(port - this.ioBase, size),
      out: (port, size, value) => this.legacyWrite(port - this.ioBase, size, value),
    };
    this.msixMmio = {
      read: (offset, size) => this.tcgRead(offset, size, BAR1_SIZE, (at, n) => this.msixRead(at, n)),
      write: (offset, size, value) => this.tcgWrite(offset, size, value, (at, n, v) => this.msixWrite(at, n, v)),
    };
    this.modernMmio = {
      read: (offset, size) => this.tcgRead(offset, size, BAR4_SIZE, (at, n) => this.modernRead(at, n)),
      write: (offset, size, value) => this.tcgWrite(offset, size, value, (at, n, v) => this.modernWrite(at, n, v)),
    };
    this.netSetFeatures(0, 0);
    this.updateMappings();
    if (options.backend) this.attachBackend(options.backend);
  }

  /** Connects `backend` (once): frames flow both ways from now on. */
  /** The ISA IRQ the firmware routed INTA to, as the interrupt-line register says (10 on q35). */
  interruptLine(): number {
    const line = this.config[0x3c];
    return line < 16 ? line : 10;
  }

  attachBackend(backend: NetBackend): void {
    if (this.backend !== null) throw new Error("virtio-net: a backend is already attached");
    this.backend = backend;
    backend.attach(this);
  }

  private initConfigSpace(): void {
    for (const [offset, hex] of CONFIG_ROWS) this.setBytes(offset, hex);
    this.setWmask32(0x04, 0x00000507);
    this.setWmask32(0x0c, 0x000000ff);
    this.setWmask32(0x10, 0xffffffe0);
    this.setWmask32(0x14, 0xfffff000);
    this.setWmask32(0x20, 0xffffc000);
    this.setWmask32(0x24, 0xffffffff);
    this.setWmask32(0x30, 0xfffc0001);
    this.setWmask32(0x3c, 0x000000ff);
    this.wmask[PCI_CFG_CAP + 4] = 0xff; // cap.bar
    this.setWmask32(PCI_CFG_CAP + 8, 0xffffffff); // cap.offset
    this.setWmask32(PCI_CFG_CAP + 12, 0xffffffff); // cap.length
    this.setWmask32(PCI_CFG_DATA, 0xffffffff);
    this.setWmask32(MSIX_CAP, 0xc0000000); // MSI-X enable, function mask
    this.setWritable(0xa4, 0x100);
    this.w1cmask[0x06] = 0x00;
    this.w1cmask[0x07] = 0xf9;
    for (let v = 0; v < MSIX_VECTORS; v++) this.msixTable[v * 16 + 12] = 1; // masked
  }

  // ---- logging -----------------------------------------------------------------------------

  private log(message: string): void {
    if (this.logLines > MAX_LOG_LINES) return;
    this.logLines++;
    if (this.logLines > MAX_LOG_LINES) this.logSink("virtio-net: further messages suppressed");
    else this.logSink(`virtio-net: ${message}`);
  }

  // ---- PCI configuration space ---------------------------------------------------------------

  private get command(): number {
    return this.config[4]! | (this.config[5]! << 8);
  }

  override read(register: number, size: number): number {
    if (register < PCI_CFG_DATA + 4 && PCI_CFG_DATA < register + size) this.pciCfgAccess(false);
    return super.read(register, size);
  }

  override write(register: number, size: number, value: number): void {
    this.defaultWrite(register, size, value);
    const end = register + size;
    // virtio_write_config: bus mastering off stops the device and drops DRIVER_OK
    if (register <= 4 && 4 < end) {
      if ((this.command & PCI_COMMAND_MASTER) === 0) {
        this.disabled = true;
        this.setStatus(this.status & ~STATUS_DRIVER_OK);
      } else {
        this.disabled = false;
      }
    }
    if (register < PCI_CFG_DATA + 4 && PCI_CFG_DATA < end) this.pciCfgAccess(true);
  }

  /** pci_default_write_config: the bytes, then BAR mappings, INTx disable and MSI-X. */
  private defaultWrite(register: number, size: number, value: number): void {
    const wasIntxDisabled = (this.command & PCI_COMMAND_INTX_DISABLE) !== 0;
    super.write(register, size, value);
    const end = Math.min(register + size, 256);
    const overlaps = (start: number, length: number) => register < start + length && start < end;
    const coversCommand = register <= 4 && 4 < end;
    if (overlaps(0x10, 24) || overlaps(0x30, 4) || coversCommand) this.updateMappings();
    if (coversCommand && ((this.command & PCI_COMMAND_INTX_DISABLE) !== 0) !== wasIntxDisabled) this.updateIntxLine();
    if (register <= MSIX_CAP + 3 && MSIX_CAP + 3 < end) this.msixWriteConfig();
  }

  /** The virtio_pci_cfg_cap window: cap.offset/cap.length select a register of the modern BAR layout. */
  private pciCfgAccess(write: boolean): void {
    const view = new DataView(this.config.buffer);
    const length = view.getUint32(PCI_CFG_CAP + 12, true);
    if (length !== 1 && length !== 2 && length !== 4) return;
    const offset = view.getUint32(PCI_CFG_CAP + 8, true) & ~(length - 1);
    if (offset + length > BAR4_SIZE) return;
    const size = length as AccessSize;
    if (write) {
      const value = size === 1 ? this.config[PCI_CFG_DATA]! : size === 2 ? view.getUint16(PCI_CFG_DATA, true) : view.getUint32(PCI_CFG_DATA, true);
      this.modernWrite(offset, size, value);
    } else {
      const value = this.modernRead(offset, size);
      for (let i = 0; i < size; i++) this.config[PCI_CFG_DATA + i] = (value >>> (8 * i)) & 0xff;
    }
  }

  // ---- BAR mapping (QEMU's pci_update_mappings / pci_bar_address) ----------------------------

  private updateMappings(): void {
    const view = new DataView(this.config.buffer);
    const command = this.command;
    let io = -1;
    if (command & PCI_COMMAND_IO) {
      const base = view.getUint32(0x10, true) & ~(BAR0_SIZE - 1);
      const last = base + BAR0_SIZE - 1;
      if (base !== 0 && last < 0x10000) io = base;
    }
    let msix = -1;
    let modern = -1;
    if (command & PCI_COMMAND_MEMORY) {
      const base1 = (view.getUint32(0x14, true) & ~(BAR1_SIZE - 1)) >>> 0;
      if (base1 !== 0 && base1 + BAR1_SIZE - 1 < 0xffffffff) msix = base1;
      const base4 = ((view.getUint32(0x20, true) & ~(BAR4_SIZE - 1)) >>> 0) + view.getUint32(0x24, true) * 0x100000000;
      if (base4 !== 0 && base4 + BAR4_SIZE <= PHYSICAL_LIMIT) modern = base4;
    }
    if (io !== this.ioBase) {
      if (this.ioBase >= 0) this.ports.unregister(this.ioBase);
      this.ioBase = -1;
      if (io >= 0) {
        try {
          this.ports.register(io, BAR0_SIZE, this.legacyPorts);
          this.ioBase = io;
        } catch (error) {
          this.log(`BAR0 not mapped at I/O 0x${io.toString(16)}: ${(error as Error).message}`);
        }
      }
    }
    this.msixBase = this.remapMmio(this.msixBase, msix, BAR1_SIZE, this.msixMmio, "BAR1");
    this.modernBase = this.remapMmio(this.modernBase, modern, BAR4_SIZE, this.modernMmio, "BAR4");
  }

  private remapMmio(current: number, wanted: number, size: number, device: MmioDevice, name: string): number {
    if (wanted === current) return current;
    if (current >= 0) this.memory.unregisterMmio(current);
    if (wanted < 0) return -1;
    // RAM takes precedence over the PCI address space (QEMU's pci-hole lies above RAM)
    if (wanted < this.memory.ramSize) return -1;
    try {
      this.memory.registerMmio(wanted, size, device);
      return wanted;
    } catch (error) {
      this.log(`${name} not mapped at 0x${wanted.toString(16)}: ${(error as Error).message}`);
      return -1;
    }
  }

  /** The BAR addresses currently decoded (-1: not mapped). */
  get mappings(): { io: number; msix: number; modern: number } {
    return { io: this.ioBase, msix: this.msixBase, modern: this.modernBase };
  }

  // ---- INTx --------------------------------------------------------------------------------

  private setIntx(level: boolean): void {
    if (level === this.intxState) return;
    this.intxState = level;
    if (level) this.config[6] |= PCI_STATUS_INTERRUPT;
    else this.config[6] &= ~PCI_STATUS_INTERRUPT;
    this.updateIntxLine();
  }

  private updateIntxLine(): void {
    const line = this.intxState && (this.command & PCI_COMMAND_INTX_DISABLE) === 0;
    if (line === this.intxLine) return;
    this.intxLine = line;
    if (line) this.stats.interrupts++;
    this.onIntx(line);
  }

  /** The INTx line as the interrupt controller sees it. */
  get intxLevel(): boolean {
    return this.intxLine;
  }

  // ---- MSI-X ---------------------------------------------------------------------------------

  get msixEnabled(): boolean {
    return (this.config[MSIX_CAP + 3]! & 0x80) !== 0;
  }

  private vectorMasked(vector: number, functionMasked: boolean): boolean {
    return functionMasked || (this.msixTable[vector * 16 + 12]! & 1) !== 0;
  }

  private msixWriteConfig(): void {
    const wasMasked = this.functionMasked;
    const control = this.config[MSIX_CAP + 3]!;
    this.functionMasked = (control & 0x80) === 0 || (control & 0x40) !== 0;
    if (!this.msixEnabled) return;
    this.setIntx(false); // pci_device_deassert_intx
    if (this.functionMasked === wasMasked) return;
    for (let v = 0; v < MSIX_VECTORS; v++) this.msixMaskUpdate(v, this.vectorMasked(v, wasMasked));
  }

  private msixMaskUpdate(vector: number, wasMasked: boolean): void {
    const masked = this.vectorMasked(vector, this.functionMasked);
    if (masked === wasMasked) return;
    if (!masked && this.msixPending & (1 << vector)) {
      this.msixPending &= ~(1 << vector);
      this.msixNotify(vector);
    }
  }

  private msixNotify(vector: number): void {
    if (vector >= MSIX_VECTORS || this.msixUsed[vector] === 0) return;
    if (this.vectorMasked(vector, this.functionMasked)) {
      this.msixPending |= 1 << vector;
      return;
    }
    // msi_send_message: a dword write through the bus-master address space
    const address = this.msixTableView.getUint32(vector * 16, true) + this.msixTableView.getUint32(vector * 16 + 4, true) * 0x100000000;
    const data = this.msixTableView.getUint32(vector * 16 + 8, true);
    if ((this.command & PCI_COMMAND_MASTER) === 0) return;
    if (address + 4 <= this.memory.fastEnd) {
      this.memory.write32(address, data);
      return;
    }
    if (!this.msixLogged) {
      this.msixLogged = true;
      this.log(
        `MSI-X message (vector ${vector}, address 0x${address.toString(16)}, data 0x${data.toString(16)}) not delivered: ` +
          `this machine has no local APIC; leave MSI-X disabled and use INTx`,
      );
    }
  }

  private vectorUse(vector: number): number {
    if (vector >= MSIX_VECTORS) return VIRTIO_NO_VECTOR;
    this.msixUsed[vector]!++;
    return vector;
  }

  private vectorUnuse(vector: number): void {
    if (vector >= MSIX_VECTORS || this.msixUsed[vector] === 0) return;
    if (--this.msixUsed[vector]! === 0) this.msixPending &= ~(1 << vector);
  }

  private msixRead(offset: number, size: AccessSize): number {
    if (size !== 4) return 0; // the table and PBA take 4-byte accesses only
    if (offset < MSIX_VECTORS * 16) return this.msixTableView.getUint32(offset, true);
    if (offset === 0x800) return this.msixPending;
    return 0; // the rest of the PBA and the holes
  }

  private msixWrite(offset: number, size: AccessSize, value: number): void {
    if (size !== 4 || offset >= MSIX_VECTORS * 16) return;
    const vector = offset >> 4;
    const wasMasked = this.vectorMasked(vector, this.functionMasked);
    this.msixTableView.setUint32(offset, value, true);
    this.msixMaskUpdate(vector, wasMasked);
  }

  // ---- MMIO as QEMU's TCG issues it ----------------------------------------------------------

  private tcgRead(offset: number, size: AccessSize, regionSize: number, read: (offset: number, size: AccessSize) => number): number {
    if ((offset & (size - 1)) === 0) return maskToSize(read(offset, size), size);
    // two aligned accesses of the same size, combined (past the BAR's end: nothing there here)
    const first = offset & ~(size - 1);
    const shift = (offset - first) * 8;
    const r1 = maskToSize(read(first, size), size);
    const r2 = first + size < regionSize ? maskToSize(read(first + size, size), size) : 0;
    return size === 2 ? ((r1 >>> shift) | (r2 << (16 - shift))) & 0xffff : ((r1 >>> shift) | (r2 << (32 - shift))) >>> 0;
  }

  private tcgWrite(offset: number, size: AccessSize, value: number, write: (offset: number, size: AccessSize, value: number) => void): void {
    if ((offset & (size - 1)) === 0) {
      write(offset, size, value);
      return;
    }
    for (let i = 0; i < size; i++) write(offset + i, 1, (value >>> (8 * i)) & 0xff);
  }

  // ---- the legacy interface (BAR0) -----------------------------------------------------------

  private get legacyConfigOffset(): number {
    return this.msixEnabled ? 24 : 20;
  }

  legacyRead(offset: number, size: AccessSize): number {
    if (offset & (size - 1)) return 0; // unaligned: an invalid access
    const configOffset = this.legacyConfigOffset;
    if (offset >= configOffset) return this.configRead(offset - configOffset, size);
    let value = 0xffffffff;
    switch (offset) {
      case 0: value = HOST_FEATURES_LO; break;
      case 4: value = this.guestFeaturesLo; break;
      case 8: value = this.queueSel < this.queues.length ? Math.floor(this.queues[this.queueSel]!.desc / 4096) >>> 0 : 0; break;
      case 12: value = this.queueSel < this.queues.length ? this.queues[this.queueSel]!.num : 0; break;
      case 14: value = this.queueSel; break;
      case 18: value = this.status; break;
      case 19: value = this.readIsr(); break;
      case 20: value = this.configVector; break;
      case 22: value = this.vectors[this.queueSel]!; break;
    }
    return maskToSize(value, size);
  }

  legacyWrite(offset: number, size: AccessSize, value: number): void {
    if (offset & (size - 1)) return;
    const configOffset = this.legacyConfigOffset;
    if (offset >= configOffset) {
      this.configWrite(offset - configOffset, size, value);
      return;
    }
    switch (offset) {
      case 4:
        if (value & VIRTIO_F_BAD_FEATURE) value = BAD_FEATURES;
        this.setFeatures(value, 0);
        break;
      case 8:
        if (value === 0) this.reset();
        else if (this.queueSel < this.queues.length) this.queues[this.queueSel]!.setLegacyAddress(value * 4096);
        break;
      case 14:
        if (value < QUEUE_MAX) this.queueSel = value;
        break;
      case 16:
        if (value < QUEUE_MAX) this.queueNotify(value);
        break;
      case 18:
        this.setStatus(value & 0xff);
        if (this.status === 0) this.reset();
        // Linux before 2.6.34 drove the device without bus mastering: QEMU switches it on
        if (value === (STATUS_ACKNOWLEDGE | STATUS_DRIVER)) this.defaultWrite(4, 1, this.config[4]! | PCI_COMMAND_MASTER);
        break;
      case 20:
        this.vectorUnuse(this.configVector);
        this.configVector = this.vectorUse(value);
        break;
      case 22: {
        this.vectorUnuse(this.vectors[this.queueSel]!);
        this.vectors[this.queueSel] = this.vectorUse(value);
        break;
      }
    }
  }

  private readIsr(): number {
    const value = this.isr;
    this.isr = 0;
    this.setIntx(false);
    return value;
  }

  // ---- the modern interface (BAR4) -----------------------------------------------------------

  modernRead(offset: number, size: AccessSize): number {
    const region = offset >> 12;
    const at = offset & 0xfff;
    switch (region) {
      case 0: return maskToSize(this.commonRead(at), size);
      case 1: return this.readIsr();
      case 2: return this.configRead(at, size);
      default: return 0; // notify
    }
  }

  modernWrite(offset: number, size: AccessSize, value: number): void {
    const region = offset >> 12;
    const at = offset & 0xfff;
    switch (region) {
      case 0: this.commonWrite(at, value); break;
      case 1: break;
      case 2: this.configWrite(at, size, value); break;
      default:
        // notify: the queue is the offset divided by the multiplier (4); the value is not used
        this.queueNotify(at >> 2);
    }
  }

  private qAddrValue(queue: number, which: number): number {
    return this.qAddr[queue * 6 + which * 2]! + this.qAddr[queue * 6 + which * 2 + 1]! * 0x100000000;
  }

  private commonRead(offset: number): number {
    const sel = this.queueSel;
    const queue = sel < this.queues.length ? this.queues[sel]! : null;
    switch (offset) {
      case 0x00: return this.dfselect;
      case 0x04: return this.dfselect === 0 ? (HOST_FEATURES_LO & ~LEGACY_ONLY_FEATURES) >>> 0 : this.dfselect === 1 ? HOST_FEATURES_HI : 0;
      case 0x08: return this.gfselect;
      case 0x0c: return this.gfselect < 2 ? this.gfRaw[this.gfselect]! : 0;
      case 0x10: return this.configVector;
      case 0x12: {
        let count = 0;
        for (let i = 0; i < this.queues.length; i++) if (this.queues[i]!.num !== 0) count = i + 1;
        return count;
      }
      case 0x14: return this.status;
      case 0x15: return this.generation;
      case 0x16: return sel;
      case 0x18: return queue?.num ?? 0;
      case 0x1a: return this.vectors[sel]!;
      case 0x1c: return this.qEnabled[sel]!;
      case 0x1e: return sel; // queue_notify_off: queues are notified in order
      case 0x20: case 0x24: case 0x28: case 0x2c: case 0x30: case 0x34:
        return this.qAddr[sel * 6 + ((offset - 0x20) >> 2)]!;
      case 0x3a: return 0; // queue_reset
      default: return 0;
    }
  }

  private commonWrite(offset: number, value: number): void {
    const sel = this.queueSel;
    switch (offset) {
      case 0x00: this.dfselect = value >>> 0; break;
      case 0x08: this.gfselect = value >>> 0; break;
      case 0x0c:
        if (this.gfselect < 2) {
          this.gfRaw[this.gfselect] = value;
          this.setFeatures(this.gfRaw[0]!, this.gfRaw[1]!);
        }
        break;
      case 0x10:
        this.vectorUnuse(this.configVector);
        this.configVector = this.vectorUse(value & 0xffff);
        break;
      case 0x14:
        this.setStatus(value & 0xff);
        if (this.status === 0) this.reset();
        break;
      case 0x16:
        if ((value & 0xffff) < QUEUE_MAX) this.queueSel = value & 0xffff;
        break;
      case 0x18:
        this.qNum[sel] = value;
        if (sel < this.queues.length) this.queues[sel]!.setNum(this.qNum[sel]!);
        break;
      case 0x1a:
        this.vectorUnuse(this.vectors[sel]!);
        this.vectors[sel] = this.vectorUse(value & 0xffff);
        break;
      case 0x1c:
        if (value === 1) {
          if (sel < this.queues.length) {
            const queue = this.queues[sel]!;
            queue.setNum(this.qNum[sel]!);
            queue.setRings(this.qAddrValue(sel, 0), this.qAddrValue(sel, 1), this.qAddrValue(sel, 2));
          }
          this.qEnabled[sel] = 1;
        } else {
          this.error(`wrong value for queue_enable ${value.toString(16)}`);
        }
        break;
      case 0x20: case 0x24: case 0x28: case 0x2c: case 0x30: case 0x34:
        this.qAddr[sel * 6 + ((offset - 0x20) >> 2)] = value;
        break;
      case 0x3a:
        if ((value & 0xffff) === 1) {
          // virtio_queue_reset (the vector's use count stays, as QEMU's)
          if (sel < this.queues.length) this.queues[sel]!.reset();
          this.vectors[sel] = VIRTIO_NO_VECTOR;
          this.qEnabled[sel] = 0;
        }
        break;
    }
  }

  // ---- device configuration (MAC, status) ----------------------------------------------------

  private refreshConfig(): void {
    this.configShadow.set(this.mac, 0);
    this.configShadow[6] = NET_S_LINK_UP;
    this.configShadow[7] = 0;
  }

  private configRead(offset: number, size: AccessSize): number {
    if (offset + size > CONFIG_LEN) return maskToSize(0xffffffff, size);
    this.refreshConfig();
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.configShadow[offset + i]! << (8 * i);
    return value >>> 0;
  }

  private configWrite(offset: number, size: AccessSize, value: number): void {
    if (offset + size > CONFIG_LEN) return;
    for (let i = 0; i < size; i++) this.configShadow[offset + i] = (value >>> (8 * i)) & 0xff;
    // virtio_net_set_config: a legacy driver without CTRL_MAC_ADDR sets the MAC this way
    if (!(this.guestFeaturesLo & VIRTIO_NET_F_CTRL_MAC_ADDR) && !(this.guestFeaturesHi & VIRTIO_F_VERSION_1)) {
      this.mac.set(this.configShadow.subarray(0, 6));
    }
  }

  // ---- features, status, reset ---------------------------------------------------------------

  private hasVersion1(): boolean {
    return (this.guestFeaturesHi & VIRTIO_F_VERSION_1) !== 0;
  }

  eventIdx(): boolean {
    return (this.guestFeaturesLo & VIRTIO_RING_F_EVENT_IDX) !== 0;
  }

  notifyOnEmpty(): boolean {
    return (this.guestFeaturesLo & VIRTIO_F_NOTIFY_ON_EMPTY) !== 0;
  }

  inactive(): boolean {
    return this.broken || this.disabled;
  }

  /** virtio_set_features: refused once FEATURES_OK is set; masked by what the device offers. */
  private setFeatures(lo: number, hi: number): void {
    if (this.status & STATUS_FEATURES_OK) return;
    lo = (lo & HOST_FEATURES_LO) >>> 0;
    hi = (hi & HOST_FEATURES_HI) >>> 0;
    this.netSetFeatures(lo, hi);
    this.guestFeaturesLo = lo;
    this.guestFeaturesHi = hi;
    if (lo & VIRTIO_RING_F_EVENT_IDX) {
      // the rings grow by the event fields: check them again
      for (const queue of this.queues) if (queue.num !== 0) queue.initRegions();
    }
  }

  private netSetFeatures(lo: number, hi: number): void {
    this.mergeable = (lo & VIRTIO_NET_F_MRG_RXBUF) !== 0;
    this.guestHdrLen = hi & VIRTIO_F_VERSION_1 || this.mergeable ? 12 : 10;
    this.vlans.fill(lo & VIRTIO_NET_F_CTRL_VLAN ? 0 : 0xffffffff);
  }

  /** virtio_set_status (+ virtio-net's set_status). */
  private setStatus(value: number): void {
    // FEATURES_OK is always accepted (QEMU's virtio-net has no feature validation to fail)
    const started = (value & STATUS_DRIVER_OK) !== 0;
    this.status = value;
    if (started && !this.msixLogged && this.msixEnabled) {
      this.msixLogged = true;
      this.log("the driver enabled MSI-X: this machine has no local APIC, so the device's interrupts will not be delivered (use INTx)");
    }
    // QEMU flushes the frames queued for the guest whenever DRIVER_OK is written
    if (started) this.backend?.guestCanReceive();
  }

  /** QEMU's virtio_pci_reset: the device, its queues and the transport's queue registers. */
  reset(): void {
    this.status = 0;
    // virtio_net_reset
    this.promisc = true;
    this.allmulti = this.alluni = this.nomulti = this.nouni = this.nobcast = false;
    this.macTable.fill(0);
    this.macInUse = this.macFirstMulti = 0;
    this.uniOverflow = this.multiOverflow = false;
    this.mac.set(this.configuredMac);
    // virtio_reset
    this.broken = false;
    this.guestFeaturesLo = this.guestFeaturesHi = 0;
    this.netSetFeatures(0, 0);
    this.queueSel = 0;
    this.disabled = false;
    this.isr = 0;
    this.configVector = VIRTIO_NO_VECTOR;
    this.notifyVector(VIRTIO_NO_VECTOR);
    for (const queue of this.queues) queue.reset();
    this.vectors.fill(VIRTIO_NO_VECTOR);
    // msix_unuse_all_vectors, the proxy's queue registers
    this.msixUsed.fill(0);
    this.msixPending = 0;
    this.qNum.fill(0);
    this.qEnabled.fill(0);
    this.qAddr.fill(0);
  }

  /** virtio_error: broken until reset; a VERSION_1 driver sees DEVICE_NEEDS_RESET and a configuration interrupt. */
  error(message: string): void {
    if (!this.broken) {
      this.stats.errors++;
      this.log(`${message} (device broken until reset)`);
    }
    if (this.hasVersion1()) {
      this.status |= STATUS_NEEDS_RESET;
      this.notifyConfig();
    }
    this.broken = true;
  }

  private notifyConfig(): void {
    if (!(this.status & STATUS_DRIVER_OK)) return;
    this.isr |= 3;
    this.generation = (this.generation + 1) & 0xff;
    this.notifyVector(this.configVector);
  }

  /** virtio_notify_vector → virtio_pci_notify: INTx follows ISR bit 0 unless MSI-X is on. */
  private notifyVector(vector: number): void {
    if (this.broken || this.disabled) return;
    if (this.msixEnabled) {
      if (vector !== VIRTIO_NO_VECTOR) this.msixNotify(vector);
    } else {
      this.setIntx((this.isr & 1) !== 0);
    }
  }

  /** virtio_notify: an interrupt for `queue` unless the driver suppressed it. */
  private notifyQueue(queue: Virtqueue): void {
    if (!queue.shouldNotify()) return;
    this.isr |= 1;
    this.notifyVector(this.vectors[queue.index]!);
  }

  // ---- queue notifications -------------------------------------------------------------------

  private queueNotify(index: number): void {
    if (index >= this.queues.length) return;
    const queue = this.queues[index]!;
    if (queue.desc === 0 || this.broken) return;
    if (index === RX_QUEUE) this.backend?.guestCanReceive();
    else if (index === TX_QUEUE) this.handleTx();
    else this.handleCtrl();
  }

  /** QEMU's virtio_net_handle_tx_bh and its bottom half, run at once. */
  private handleTx(): void {
    const queue = this.queues[TX_QUEUE]!;
    queue.setNotification(false);
    if (!(this.status & STATUS_DRIVER_OK)) return;
    // each round takes at least one chain, and at most the queue size can be pending
    for (let round = 0; round <= VIRTQUEUE_MAX_SIZE; round++) {
      let sent = this.flushTx();
      if (sent < 0) return;
      if (sent >= TX_BURST) continue;
      queue.setNotification(true);
      sent = this.flushTx();
      if (sent < 0) return;
      if (sent === 0) return;
      queue.setNotification(false);
    }
  }

  /** virtio_net_flush_tx: frames handed to the backend; -1 when the device broke. */
  private flushTx(): number {
    if (!(this.status & STATUS_DRIVER_OK)) return 0;
    const queue = this.queues[TX_QUEUE]!;
    const chain = this.txChain;
    let sent = 0;
    while (queue.pop(chain)) {
      if (chain.outCount < 1) {
        queue.inuse--; // virtqueue_detach_element
        this.error("virtio-net header not in first element");
        return -1;
      }
      this.transmit(chain);
      queue.push(chain.head, 0);
      this.notifyQueue(queue);
      if (++sent >= TX_BURST) break;
    }
    return sent;
  }

  private transmit(chain: Chain): void {
    const length = chain.outBytes - this.guestHdrLen;
    if (length <= 0 || length > MAX_TX_FRAME) {
      this.stats.txDropped++;
      return;
    }
    let frame: Uint8Array;
    const first = chain.outLen[0]!;
    if (first >= this.guestHdrLen + length) {
      const start = chain.outAddr[0]! + this.guestHdrLen;
      frame = this.memory.ram.subarray(start, start + length);
    } else {
      if (this.txScratch.length < length) this.txScratch = new Uint8Array(Math.max(length, this.txScratch.length * 2));
      chain.readOut(this.memory, this.guestHdrLen, this.txScratch, length);
      frame = this.txScratch.subarray(0, length);
    }
    this.stats.txFrames++;
    this.stats.txBytes += length;
    this.backend?.receiveFromGuest(frame);
  }

  // ---- control queue -------------------------------------------------------------------------

  private handleCtrl(): void {
    const queue = this.queues[CTRL_QUEUE]!;
    const chain = this.ctrlChain;
    while (queue.pop(chain)) {
      if (chain.inBytes < 1 || chain.outBytes < 2) {
        queue.inuse--;
        this.error("virtio-net ctrl missing headers");
        return;
      }
      const header = new Uint8Array(2);
      chain.readOut(this.memory, 0, header, 2);
      const read = (offset: number, length: number): Uint8Array | null => {
        const bytes = new Uint8Array(length);
        return chain.readOut(this.memory, 2 + offset, bytes, length) === length ? bytes : null;
      };
      const status = this.controlCommand(header[0]!, header[1]!, chain.outBytes - 2, read);
      chain.writeIn(this.memory, 0, Uint8Array.of(status));
      queue.push(chain.head, 1);
      this.notifyQueue(queue);
    }
  }

  /**
   * One control command (QEMU's virtio_net_handle_ctrl_iov): VIRTIO_NET_OK (0) or VIRTIO_NET_ERR (1).
   * `dataLength` is the size of what follows the class/command header; `read` reads from it.
   */
  private controlCommand(cls: number, cmd: number, dataLength: number, read: (offset: number, length: number) => Uint8Array | null): number {
    const OK = 0;
    const ERR = 1;
    const u32 = (offset: number) => {
      const bytes = read(offset, 4);
      return bytes === null ? -1 : (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
    };
    switch (cls) {
      case 0: { // VIRTIO_NET_CTRL_RX: PROMISC, ALLMULTI, ALLUNI, NOMULTI, NOUNI, NOBCAST
        const on = read(0, 1);
        if (on === null) return ERR;
        const value = on[0]! !== 0;
        switch (cmd) {
          case 0: this.promisc = value; break;
          case 1: this.allmulti = value; break;
          case 2: this.alluni = value; break;
          case 3: this.nomulti = value; break;
          case 4: this.nouni = value; break;
          case 5: this.nobcast = value; break;
          default: return ERR;
        }
        return OK;
      }
      case 1: { // VIRTIO_NET_CTRL_MAC
        if (cmd === 1) { // MAC_ADDR_SET
          if (dataLength !== 6) return ERR;
          this.mac.set(read(0, 6)!);
          return OK;
        }
        if (cmd !== 0) return ERR; // MAC_TABLE_SET: unicast entries, then multicast entries
        const macs = new Uint8Array(MAC_TABLE_ENTRIES * 6);
        let inUse = 0;
        let uniOverflow = false;
        let multiOverflow = false;
        const uni = u32(0);
        if (uni < 0 || uni * 6 > dataLength - 4) return ERR;
        if (uni <= MAC_TABLE_ENTRIES) {
          if (uni > 0) macs.set(read(4, uni * 6)!, 0);
          inUse = uni;
        } else {
          uniOverflow = true;
        }
        const firstMulti = inUse;
        const at = 4 + uni * 6;
        const multi = u32(at);
        if (multi < 0 || multi * 6 !== dataLength - at - 4) return ERR;
        if (multi <= MAC_TABLE_ENTRIES - inUse) {
          if (multi > 0) macs.set(read(at + 4, multi * 6)!, inUse * 6);
          inUse += multi;
        } else {
          multiOverflow = true;
        }
        this.macTable.set(macs);
        this.macInUse = inUse;
        this.macFirstMulti = firstMulti;
        this.uniOverflow = uniOverflow;
        this.multiOverflow = multiOverflow;
        return OK;
      }
      case 2: { // VIRTIO_NET_CTRL_VLAN: ADD, DEL
        const bytes = read(0, 2);
        if (bytes === null) return ERR;
        const vid = bytes[0]! | (bytes[1]! << 8);
        if (vid >= 4096) return ERR;
        if (cmd === 0) this.vlans[vid >> 5] = (this.vlans[vid >> 5]! | (1 << (vid & 31))) >>> 0;
        else if (cmd === 1) this.vlans[vid >> 5] = (this.vlans[vid >> 5]! & ~(1 << (vid & 31))) >>> 0;
        else return ERR;
        return OK;
      }
      // ANNOUNCE (3): nothing was announced (no migration); MQ (4): not offered;
      // GUEST_OFFLOADS (5): the backend has no vnet header. QEMU answers all three with ERR.
      default:
        return ERR;
    }
  }

  // ---- receive -------------------------------------------------------------------------------

  /** NetDevicePort: one frame for the guest. False when it cannot take it now (no buffer, not ready). */
  deliver(frame: Uint8Array): boolean {
    const queue = this.queues[RX_QUEUE]!;
    // virtio_net_can_receive
    if (!queue.ready || !(this.status & STATUS_DRIVER_OK)) return false;
    const size = frame.length;
    if (size === 0) return true;
    if (!this.hasBuffers(size + this.guestHdrLen)) return false;
    if (!this.receiveFilter(frame)) {
      this.stats.rxFiltered++;
      return true;
    }
    const chain = this.rxChain;
    let offset = 0;
    let count = 0;
    let numBuffersLo = -1;
    let numBuffersHi = -1;
    while (offset < size) {
      if (count === VIRTQUEUE_MAX_SIZE) {
        this.error("virtio-net unexpected long buffer chain");
        this.rxDetach(count);
        return true;
      }
      if (!queue.pop(chain)) {
        if (count > 0) {
          this.error(
            `virtio-net unexpected empty queue: i ${count} mergeable ${this.mergeable ? 1 : 0} offset ${offset}, ` +
              `size ${size}, guest hdr len ${this.guestHdrLen}, host hdr len 0`,
          );
          this.rxDetach(count);
        }
        return true;
      }
      if (chain.inCount < 1) {
        queue.inuse--;
        this.error("virtio-net receive queue contains no in buffers");
        this.rxDetach(count);
        return true;
      }
      let total = 0;
      let guestOffset = 0;
      if (count === 0) {
        if (this.mergeable) {
          numBuffersLo = this.inAddress(chain, 10);
          numBuffersHi = this.inAddress(chain, 11);
        }
        chain.writeIn(this.memory, 0, this.zeroHeader.subarray(0, 10));
        total = this.guestHdrLen;
        guestOffset = this.guestHdrLen;
      }
      const written = chain.writeIn(this.memory, guestOffset, offset === 0 ? frame : frame.subarray(offset));
      total += written;
      offset += written;
      if (!this.mergeable && offset < size) {
        // the frame does not fit the buffer: dropped, the buffer stays available (virtqueue_unpop)
        queue.unpop(1);
        this.stats.rxDropped++;
        return true;
      }
      this.rxHeads[count] = chain.head;
      this.rxLens[count] = total;
      count++;
    }
    if (numBuffersLo >= 0) this.memory.write8(numBuffersLo, count & 0xff);
    if (numBuffersHi >= 0) this.memory.write8(numBuffersHi, count >> 8);
    for (let j = 0; j < count; j++) queue.fill(this.rxHeads[j]!, this.rxLens[j]!, j);
    queue.flush(count);
    this.notifyQueue(queue);
    this.stats.rxFrames++;
    this.stats.rxBytes += size;
    return true;
  }

  /** Elements popped before an error go back uncounted (virtqueue_detach_element). */
  private rxDetach(count: number): void {
    this.queues[RX_QUEUE]!.inuse -= count;
  }

  /** The guest address of byte `offset` of the chain's in buffers (num_buffers), or -1. */
  private inAddress(chain: Chain, offset: number): number {
    for (let i = 0; i < chain.inCount; i++) {
      const len = chain.inLen[i]!;
      if (offset < len) return chain.inAddr[i]! + offset;
      offset -= len;
    }
    return -1;
  }

  /** virtio_net_has_buffers: and the notification dance that makes the driver kick when it adds some. */
  private hasBuffers(bufsize: number): boolean {
    const queue = this.queues[RX_QUEUE]!;
    const available = () => !queue.empty() && (!this.mergeable || queue.availInBytes(bufsize) >= bufsize);
    if (!available()) {
      queue.setNotification(true);
      if (!available()) return false;
    }
    queue.setNotification(false);
    return true;
  }

  /** QEMU's receive_filter. */
  private receiveFilter(frame: Uint8Array): boolean {
    if (this.promisc) return true;
    if (frame.length >= 16 && frame[12] === 0x81 && frame[13] === 0x00) {
      const vid = ((frame[14]! << 8) | frame[15]!) & 0xfff;
      if (!(this.vlans[vid >> 5]! & (1 << (vid & 31)))) return false;
    }
    if (frame.length < 6) return false;
    const table = this.macTable;
    const matches = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        let equal = true;
        for (let b = 0; b < 6; b++) if (table[i * 6 + b] !== frame[b]) { equal = false; break; }
        if (equal) return true;
      }
      return false;
    };
    if (frame[0]! & 1) {
      let broadcast = true;
      for (let b = 0; b < 6; b++) if (frame[b] !== 0xff) broadcast = false;
      if (broadcast) return !this.nobcast;
      if (this.nomulti) return false;
      if (this.allmulti || this.multiOverflow) return true;
      return matches(this.macFirstMulti, this.macInUse);
    }
    if (this.nouni) return false;
    if (this.alluni || this.uniOverflow) return true;
    let ours = true;
    for (let b = 0; b < 6; b++) if (frame[b] !== this.mac[b]) ours = false;
    if (ours) return true;
    return matches(0, this.macFirstMulti);
  }
}
