/**
 * Sequence numbers are 56-digit decimal strings that encode the shard log's Redis entry id
 * `<ms>-<seq>`: 10^55 + ms * 2^22 + seq. They therefore increase strictly with the log, are unique per
 * shard, and decode back to the entry without a lookup. (`seq` stays far below 2^22 per millisecond.)
 */
const BASE = 10n ** 55n;
const SEQ_BITS = 22n;
const SEQ_MASK = (1n << SEQ_BITS) - 1n;

/** The sequence number of a Redis entry id. */
export function toSequenceNumber(entryId: string): string {
  const dash = entryId.indexOf('-');
  const ms = BigInt(entryId.slice(0, dash));
  const seq = BigInt(entryId.slice(dash + 1));
  return (BASE + (ms << SEQ_BITS) + seq).toString();
}

/** The Redis entry id of a sequence number, or undefined when it is not one of ours. */
export function toEntryId(sequenceNumber: string): string | undefined {
  if (!/^[1-9]\d{55}$/.test(sequenceNumber)) return undefined;
  const n = BigInt(sequenceNumber) - BASE;
  if (n < 0n) return undefined;
  return `${n >> SEQ_BITS}-${n & SEQ_MASK}`;
}
