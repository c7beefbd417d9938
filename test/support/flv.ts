/**
 * Cuts an FLV file the way node-media-server hands it to a subscriber: the 13-byte header (with
 * PreviousTagSize0), then one chunk per tag (11-byte header, body, 4-byte PreviousTagSize). Views, no copies.
 */
export function flvChunks(flv: Uint8Array): Buffer[] {
  const bytes = Buffer.from(flv.buffer, flv.byteOffset, flv.byteLength);
  const chunks = [bytes.subarray(0, 13)];
  for (let offset = 13; offset + 11 <= bytes.byteLength; ) {
    const size = bytes.readUIntBE(offset + 1, 3);
    chunks.push(bytes.subarray(offset, offset + 11 + size + 4));
    offset += 11 + size + 4;
  }
  return chunks;
}
