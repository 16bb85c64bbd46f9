/**
 * RFC 6455 headers of final binary frames, written by the transport itself so
 * that a whole frame (header and payload) leaves in one socket write straight
 * from the encoder's buffer, instead of through ws.send() (which costs an
 * options object, a header buffer and a corked two-buffer write per frame).
 *
 * The bytes are exactly what ws sends for the same payload: FIN + binary
 * opcode, then the length (7, 7+16 or 7+64 bits); a dialer (client) frame
 * also has the mask bit and a four-byte mask key, which is all zeros (the
 * dialer's `generateMask`), so the payload goes unmasked. A server must not
 * mask, so the acceptor's frames have neither.
 */

/** The longest header: 2 + 8 (64-bit length) + 4 (mask key). */
export const WS_MAX_HEADER_BYTES = 14;

const FIN_BINARY = 0x82;
const MASK_BIT = 0x80;
const TWO_32 = 0x1_0000_0000;

/** Header bytes of a final binary frame with a `len`-byte payload. */
export function wsHeaderBytes(len: number, masked: boolean): number {
  return (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/**
 * Writes the header of a final binary frame with a `len`-byte payload so that
 * it ends at `end` (where the payload starts), and returns where it starts.
 * `masked`: mask bit set and an all-zero mask key (client frames).
 */
export function writeWsHeaderBefore(buf: Uint8Array, end: number, len: number, masked: boolean): number {
  const start = end - wsHeaderBytes(len, masked);
  let p = start;
  const mask = masked ? MASK_BIT : 0;
  buf[p++] = FIN_BINARY;
  if (len < 126) {
    buf[p++] = mask | len;
  } else if (len < 65536) {
    buf[p++] = mask | 126;
    buf[p++] = len >>> 8;
    buf[p++] = len & 0xff;
  } else {
    buf[p++] = mask | 127;
    const hi = Math.floor(len / TWO_32);
    const lo = len >>> 0;
    buf[p++] = 0;
    buf[p++] = 0;
    buf[p++] = (hi >>> 8) & 0xff;
    buf[p++] = hi & 0xff;
    buf[p++] = lo >>> 24;
    buf[p++] = (lo >>> 16) & 0xff;
    buf[p++] = (lo >>> 8) & 0xff;
    buf[p++] = lo & 0xff;
  }
  if (masked) {
    buf[p++] = 0;
    buf[p++] = 0;
    buf[p++] = 0;
    buf[p++] = 0;
  }
  return start;
}
