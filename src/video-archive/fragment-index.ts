import { ServiceError } from '../errors/index.ts';
import type { RedisClient } from '../redis/index.ts';
import { type FragmentMetadata, hashToMetadata, isFragmentNumber, streamIdOf } from './archive-layout.ts';
import { fragmentKeys } from './keys.ts';
import type { VideoStreamRecord } from './video-stream-record.ts';

/** Which timestamp a ListFragments range selects on (KVS `FragmentSelectorType`). */
export type FragmentTimestampType = 'SERVER_TIMESTAMP' | 'PRODUCER_TIMESTAMP';

/** Largest MaxResults of ListFragments (and its default). */
export const MAX_LIST_FRAGMENTS = 1000;

/** One page of fragments; `nextToken` is absent on the last page. */
export interface FragmentPage {
  fragments: FragmentMetadata[];
  nextToken?: string;
}

/** Reads a stream's fragment index (written by ArchiveWriter): ranges by timestamp, metadata by number. */
export class FragmentIndex {
  readonly #redis: RedisClient;

  constructor(options: { redis: RedisClient }) {
    this.#redis = options.redis;
  }

  /**
   * ListFragments: fragments whose `type` timestamp is within [startMs, endMs] (either bound optional),
   * in timestamp order (ties by fragment number), at most `maxResults` (≤ 1000) per page.
   */
  async list(
    stream: VideoStreamRecord,
    options: {
      type: FragmentTimestampType;
      startMs?: number | undefined;
      endMs?: number | undefined;
      maxResults?: number | undefined;
      nextToken?: string | undefined;
    },
  ): Promise<FragmentPage> {
    const id = streamIdOf(stream);
    const key =
      options.type === 'SERVER_TIMESTAMP'
        ? fragmentKeys.byServerTime(stream.name, id)
        : fragmentKeys.byProducerTime(stream.name, id);
    const limit = Math.min(options.maxResults ?? MAX_LIST_FRAGMENTS, MAX_LIST_FRAGMENTS);
    const after = options.nextToken ? decodeToken(options.nextToken) : undefined;
    const min = after
      ? String(after.score)
      : options.startMs !== undefined
        ? String(options.startMs)
        : '-inf';
    const max = options.endMs !== undefined ? String(options.endMs) : '+inf';
    const numbers: { number: string; score: number }[] = [];
    // From the token's score, members up to and including the token's number are skipped.
    for (let offset = 0; numbers.length <= limit; ) {
      const batch = limit + 1 - numbers.length + (after ? 16 : 0);
      const rows = await this.#redis.zrangebyscore(key, min, max, 'WITHSCORES', 'LIMIT', offset, batch);
      for (let i = 0; i + 1 < rows.length; i += 2) {
        const number = rows[i] as string;
        const score = Number(rows[i + 1]);
        if (after && score === after.score && number <= after.number) continue;
        if (numbers.length <= limit) numbers.push({ number, score });
      }
      offset += rows.length / 2;
      if (rows.length / 2 < batch) break;
    }
    const page = numbers.slice(0, limit);
    const fragments = (
      await this.get(
        stream,
        page.map((n) => n.number),
      )
    ).flatMap((f) => f ?? []);
    const last = page.at(-1);
    return {
      fragments,
      ...(numbers.length > limit && last ? { nextToken: encodeToken(last.score, last.number) } : {}),
    };
  }

  /** The metadata of each fragment number, undefined where the stream has no such fragment. */
  async get(
    stream: VideoStreamRecord,
    numbers: readonly string[],
  ): Promise<(FragmentMetadata | undefined)[]> {
    if (numbers.length === 0) return [];
    const id = streamIdOf(stream);
    const pipeline = this.#redis.pipeline();
    for (const number of numbers) {
      if (isFragmentNumber(number)) pipeline.hgetall(fragmentKeys.fragment(stream.name, id, number));
    }
    const replies = (await pipeline.exec()) ?? [];
    let reply = 0;
    return numbers.map((number) => {
      if (!isFragmentNumber(number)) return undefined;
      const [error, hash] = replies[reply++] ?? [null, {}];
      if (error) throw new Error('reading the fragment index failed', { cause: error });
      return hashToMetadata(hash as Record<string, string>);
    });
  }

  /**
   * The newest `count` fragments by `type` timestamp at or before `endMs` (default: now and later too),
   * oldest first: the window of a live playlist.
   */
  async latest(
    stream: VideoStreamRecord,
    options: { type: FragmentTimestampType; count: number; endMs?: number | undefined },
  ): Promise<FragmentMetadata[]> {
    const id = streamIdOf(stream);
    const key =
      options.type === 'SERVER_TIMESTAMP'
        ? fragmentKeys.byServerTime(stream.name, id)
        : fragmentKeys.byProducerTime(stream.name, id);
    const max = options.endMs === undefined ? '+inf' : String(options.endMs);
    const numbers = await this.#redis.zrevrangebyscore(key, max, '-inf', 'LIMIT', 0, options.count);
    return (await this.get(stream, numbers.reverse())).flatMap((f) => f ?? []);
  }

  /** How many init versions of the stream were first written before `initVersion` (0 for the first). */
  async initRank(stream: VideoStreamRecord, initVersion: string): Promise<number> {
    const rank = await this.#redis.zrank(
      fragmentKeys.initOrder(stream.name, streamIdOf(stream)),
      initVersion,
    );
    return rank ?? 0;
  }

  /** Init segment version -> object key, for every init segment of the stream. */
  async initSegments(stream: VideoStreamRecord): Promise<Record<string, string>> {
    return this.#redis.hgetall(fragmentKeys.inits(stream.name, streamIdOf(stream)));
  }
}

/** The opaque NextToken: base64url of `<score>:<fragment number>`. */
function encodeToken(score: number, number: string): string {
  return Buffer.from(`${score}:${number}`, 'utf8').toString('base64url');
}

function decodeToken(token: string): { score: number; number: string } {
  const match = /^(-?\d+):(9\d{20})$/.exec(Buffer.from(token, 'base64url').toString('utf8'));
  if (!match?.[1] || !match[2])
    throw new ServiceError('InvalidArgumentException', 'The NextToken is not valid.');
  return { score: Number(match[1]), number: match[2] };
}
