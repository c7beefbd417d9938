import { hash } from 'node:crypto';

/** Largest 128-bit hash key (2^128 - 1). */
export const MAX_HASH_KEY = (1n << 128n) - 1n;

/** The 128-bit hash key of a partition key: MD5 of its UTF-8 bytes, as an unsigned integer. */
export function hashKeyOf(partitionKey: string): bigint {
  return BigInt(`0x${hash('md5', partitionKey, 'hex')}`);
}

/** Splits the hash-key space into `count` contiguous ranges, as AWS does for a new stream. */
export function evenHashRanges(count: number): Array<{ startingHashKey: bigint; endingHashKey: bigint }> {
  const step = (MAX_HASH_KEY + 1n) / BigInt(count);
  return Array.from({ length: count }, (_, i) => ({
    startingHashKey: step * BigInt(i),
    endingHashKey: i === count - 1 ? MAX_HASH_KEY : step * BigInt(i + 1) - 1n,
  }));
}

/** `shardId-000000000007` for index 7. */
export function shardIdOf(index: number): string {
  return `shardId-${String(index).padStart(12, '0')}`;
}
