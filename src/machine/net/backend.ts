// The boundary between a network device and what it is plugged into, as QEMU keeps hw/net (the
// device: virtio-net-pci in src/machine/devices/) apart from net/ (the backends: user-mode NAT,
// packet capture, in this folder). Frames are Ethernet frames without FCS or padding.
//
// Flow control: the device delivers a guest frame to the backend at once (the guest's TX queue is
// drained as fast as the backend takes frames). Towards the guest, deliver() may refuse a frame
// (false) when the guest has no receive buffer posted; the backend keeps it (bounded) and tries
// again when the device calls backend.guestCanReceive(). Nothing crosses the boundary by
// exception: a backend that cannot handle a frame drops and counts it.

/** The device side, as the backend sees it. */
export interface NetDevicePort {
  /** hands one frame to the guest; false when no receive buffer is posted (try again after guestCanReceive) */
  deliver(frame: Uint8Array): boolean;
  /** the guest's MAC address, as the device presents it */
  readonly mac: Uint8Array;
}

/** The backend side, as the device sees it. */
export interface NetBackend {
  /** connects the backend to its device (called once, before any frame flows) */
  attach(port: NetDevicePort): void;
  /** a frame the guest transmitted; the buffer is only valid during the call */
  receiveFromGuest(frame: Uint8Array): void;
  /** the guest posted receive buffers: frames refused earlier may be delivered now */
  guestCanReceive(): void;
  /** closes host sockets, listeners and files; nothing is delivered afterwards */
  close(): void;
}

/** What the machine's run loop needs from host-side I/O: a way to be woken when a halted guest has a frame. */
export interface HostWake {
  /** called by a backend after it delivered a frame (or anything else the guest may be waiting for) */
  wake(): void;
}
