import { createHmac, timingSafeEqual } from 'node:crypto';

/** Where a reader is in one shard: the Redis entry id and whether that entry is included. */
export interface IteratorPosition {
  streamName: string;
  streamId: string;
  shardId: string;
  /** Redis entry id `<ms>-<seq>`. */
  entryId: string;
  /** true = start after entryId, false = at it. */
  exclusive: boolean;
  /** When the iterator was issued (epoch ms); it expires 5 minutes later. */
  issuedAt: number;
}

const MAC_BYTES = 16;

/**
 * Shard iterators: base64 of a compact JSON position plus a truncated HMAC-SHA256 under a secret
 * shared by all replicas, so they are opaque to clients, cannot be forged or edited, and any replica
 * can continue any reader.
 */
export class ShardIteratorCodec {
  readonly #secret: Buffer;

  constructor(secret: Buffer) {
    this.#secret = secret;
  }

  /** Encodes a position as an iterator string (≤ 512 characters for names ≤ 128). */
  encode(position: IteratorPosition): string {
    const body = Buffer.from(
      JSON.stringify([
        position.streamName,
        position.streamId,
        position.shardId,
        position.entryId,
        position.exclusive ? 1 : 0,
        position.issuedAt,
      ]),
    );
    return Buffer.concat([body, this.#mac(body)]).toString('base64');
  }

  /** Decodes and authenticates an iterator; undefined when it is malformed or forged. */
  decode(iterator: string): IteratorPosition | undefined {
    const bytes = Buffer.from(iterator, 'base64');
    if (bytes.length <= MAC_BYTES || bytes.toString('base64') !== iterator) return undefined;
    const body = bytes.subarray(0, bytes.length - MAC_BYTES);
    if (!timingSafeEqual(bytes.subarray(bytes.length - MAC_BYTES), this.#mac(body))) return undefined;
    try {
      const [streamName, streamId, shardId, entryId, exclusive, issuedAt] = JSON.parse(body.toString()) as [
        string,
        string,
        string,
        string,
        number,
        number,
      ];
      return { streamName, streamId, shardId, entryId, exclusive: exclusive === 1, issuedAt };
    } catch {
      return undefined;
    }
  }

  #mac(body: Buffer): Buffer {
    return createHmac('sha256', this.#secret).update(body).digest().subarray(0, MAC_BYTES);
  }
}
