import { crc32 as zlibCrc32 } from "node:zlib";

/** CRC-32 (IEEE 802.3, as zip uses it), fed chunk by chunk; native via node:zlib. */
export class Crc32 {
  private crc = 0;

  update(data: Uint8Array): void {
    this.crc = zlibCrc32(data, this.crc);
  }

  get value(): number {
    return this.crc >>> 0;
  }
}

export function crc32(data: Uint8Array): number {
  const c = new Crc32();
  c.update(data);
  return c.value;
}
