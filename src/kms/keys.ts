// Every Redis key of the key service. One hash tag, {kms}, keeps them in one Cluster slot so
// multi-key transactions (key creation, destruction, rotation) stay atomic on Redis Cluster.

const TAG = 'kms:{kms}';

/** Redis key names of the key service; nothing else builds them. */
export const kmsKeys = {
  /** String: a value sealed under the root key, proving at start that the configured root key is the right one. */
  rootCheck: () => `${TAG}:root-check`,
  /** Sorted set (all scores 0, ordered by id): every live key id, for ListKeys. */
  keyIds: () => `${TAG}:key-ids`,
  /** Hash: a key's metadata (state, dates, rotation, current version). */
  key: (keyId: string) => `${TAG}:key:${keyId}`,
  /** Hash: key version -> key material wrapped under the root key. */
  material: (keyId: string) => `${TAG}:material:${keyId}`,
  /** Hash: tag key -> tag value. */
  tags: (keyId: string) => `${TAG}:tags:${keyId}`,
  /** Hash: alias name -> JSON { targetKeyId, creationDate, lastUpdatedDate }. */
  aliases: () => `${TAG}:aliases`,
  /** Hash: key id -> deletion time (epoch ms) of crypto-shredded keys, for clear errors. */
  deleted: () => `${TAG}:deleted`,
} as const;
