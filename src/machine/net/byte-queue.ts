// A FIFO of bytes kept as the chunks they arrived in: append at the back, read any range from the
// front (for retransmission), drop from the front (when acknowledged). No copy until read.

export class ByteQueue {
  private chunks: Uint8Array[] = [];
  /** bytes of chunks[0] already consumed */
  private head = 0;
  private total = 0;

  get length(): number {
    return this.total;
  }

  push(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.total += bytes.length;
  }

  /** Copies `length` bytes starting `offset` bytes from the front into `target` at `targetOffset`. */
  copyTo(offset: number, length: number, target: Uint8Array, targetOffset: number): void {
    if (offset < 0 || length < 0 || offset + length > this.total) throw new RangeError("ByteQueue.copyTo out of range");
    let skip = offset + this.head;
    let index = 0;
    while (index < this.chunks.length && skip >= this.chunks[index].length) {
      skip -= this.chunks[index].length;
      index++;
    }
    let written = 0;
    while (written < length) {
      const chunk = this.chunks[index++];
      const take = Math.min(chunk.length - skip, length - written);
      target.set(chunk.subarray(skip, skip + take), targetOffset + written);
      written += take;
      skip = 0;
    }
  }

  /** Drops `count` bytes from the front. */
  consume(count: number): void {
    if (count < 0 || count > this.total) throw new RangeError("ByteQueue.consume out of range");
    this.total -= count;
    count += this.head;
    let index = 0;
    while (index < this.chunks.length && count >= this.chunks[index].length) {
      count -= this.chunks[index].length;
      index++;
    }
    if (index > 0) this.chunks.splice(0, index);
    this.head = count;
  }

  clear(): void {
    this.chunks = [];
    this.head = 0;
    this.total = 0;
  }
}
