import {
  type Fragment,
  type KinesisVideoArchivedMediaClient,
  ListFragmentsCommand,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { createRedisClient } from '../../src/redis/index.ts';
import { fragmentKeys } from '../../src/video-archive/keys.ts';

/**
 * Every fragment of a stream with a server timestamp from `sinceMs` ago (default 10 minutes) to a
 * minute ahead, all pages, in fragment-number order: what the e2e tests of ingest and playback check.
 */
export async function recentFragments(
  client: KinesisVideoArchivedMediaClient,
  streamName: string,
  options: { sinceMs?: number } = {},
): Promise<Fragment[]> {
  const fragments: Fragment[] = [];
  const selector = {
    FragmentSelectorType: 'SERVER_TIMESTAMP' as const,
    TimestampRange: {
      StartTimestamp: new Date(Date.now() - (options.sinceMs ?? 600_000)),
      EndTimestamp: new Date(Date.now() + 60_000),
    },
  };
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListFragmentsCommand({
        StreamName: streamName,
        ...(nextToken ? { NextToken: nextToken } : { FragmentSelector: selector }),
      }),
    );
    fragments.push(...(page.Fragments ?? []));
    nextToken = page.NextToken;
  } while (nextToken);
  return fragments.sort((a, b) => (a.FragmentNumber ?? '').localeCompare(b.FragmentNumber ?? ''));
}

/**
 * Fragment numbers of `streamName` in the order an archive writer indexed them from now on (its
 * `indexed` channel, published in the indexing transaction): what drain order checks use, since
 * ListFragments returns fragments sorted.
 */
export async function watchIndexed(
  redisUrl: string,
  streamName: string,
): Promise<{ numbers: string[]; stop: () => void }> {
  const subscriber = createRedisClient(redisUrl, { connectionName: 'test-indexed-watch' });
  const channel = fragmentKeys.indexedChannel(streamName);
  const numbers: string[] = [];
  subscriber.on('message', (from: string, message: string) => {
    if (from === channel) numbers.push(message);
  });
  await subscriber.subscribe(channel);
  return { numbers, stop: () => subscriber.disconnect() };
}
