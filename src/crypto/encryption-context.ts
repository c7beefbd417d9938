/** KMS encryption context: non-secret key/value pairs bound to a ciphertext as additional authenticated data. */
export type EncryptionContext = Readonly<Record<string, string>>;

/**
 * The canonical bytes of an encryption context, used as AAD: u16 pair count, then for each pair in
 * byte-wise order of the UTF-8 key: u16 key length, key, u16 value length, value (all big-endian).
 * The empty context and an absent one encode the same way.
 */
export function canonicalContext(context: EncryptionContext | undefined): Buffer {
  if (context === undefined) return Buffer.alloc(2);
  const entries = Object.entries(context).map(
    ([k, v]) => [Buffer.from(k, 'utf8'), Buffer.from(v, 'utf8')] as const,
  );
  if (entries.length === 0) return Buffer.alloc(2);
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  let size = 2;
  for (const [k, v] of entries) size += 4 + k.length + v.length;
  if (entries.length > 0xffff) throw new RangeError('encryption context has too many pairs');
  const out = Buffer.allocUnsafe(size);
  let offset = out.writeUInt16BE(entries.length, 0);
  for (const [k, v] of entries) {
    if (k.length > 0xffff || v.length > 0xffff) throw new RangeError('encryption context entry is too long');
    offset = out.writeUInt16BE(k.length, offset);
    offset += k.copy(out, offset);
    offset = out.writeUInt16BE(v.length, offset);
    offset += v.copy(out, offset);
  }
  return out;
}
