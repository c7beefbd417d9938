import { randomBytes } from 'node:crypto';
import { CreateStreamCommand, KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import {
  GetHLSStreamingSessionURLCommand,
  type GetHLSStreamingSessionURLCommandInput,
  KinesisVideoArchivedMediaClient,
} from '@aws-sdk/client-kinesis-video-archived-media';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishToken } from '../../../src/ingest/index.ts';
import { probe } from '../../integration/video/fmp4-source.ts';
import { freePort } from '../../support/free-port.ts';
import { publishRtmp, type RtmpPublisher } from '../../support/rtmp-publisher.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';
import { recentFragments } from '../../support/video.ts';

// KVS HLS on the archive, checked as a player sees it: an ffmpeg publisher streams over RTMP (1 s GOP),
// the SDK asks for session URLs, and the playlists and media are fetched over plain HTTP.

const SECRET = 'hls-e2e-publish-secret-0123456789';
let gateway: RunningApp;
let kvs: KinesisVideoClient;
let media: KinesisVideoArchivedMediaClient;
let rtmpPort: number;
/** Added to the wall clock: lets a test expire sessions without waiting 5 minutes. */
let clockOffsetMs = 0;
const publishers: RtmpPublisher[] = [];
let live: string;
const startedMs = Date.now();

beforeAll(async () => {
  rtmpPort = await freePort();
  gateway = await startApp({
    env: { STREAMGATE_RTMP_PORT: String(rtmpPort), STREAMGATE_PUBLISH_SECRET: SECRET },
    overrides: { clock: { now: () => Date.now() + clockOffsetMs } },
  });
  const client = { endpoint: gateway.endpoint, region: 'us-east-1', credentials: TEST_KEYS, maxAttempts: 1 };
  kvs = new KinesisVideoClient(client);
  media = new KinesisVideoArchivedMediaClient(client);
  live = await createStream('hls', 1);
  publishers.push(publish(live, 40));
  // expect.poll only runs inside tests: wait for 4 fragments by hand.
  for (const deadline = Date.now() + 30_000; (await recentFragments(media, live)).length < 4; ) {
    if (Date.now() > deadline) throw new Error('the publisher produced no 4 fragments in 30 s');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
});
afterAll(async () => {
  for (const p of publishers) p.kill();
  await gateway?.stop();
  kvs?.destroy();
  media?.destroy();
});

async function createStream(prefix: string, retentionHours: number): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: retentionHours }));
  return name;
}

function publish(name: string, seconds: number): RtmpPublisher {
  return publishRtmp(`rtmp://127.0.0.1:${rtmpPort}/live/${name}?key=${publishToken(SECRET, name)}`, {
    seconds,
    gopSeconds: 1,
  });
}

async function sessionUrl(input: GetHLSStreamingSessionURLCommandInput): Promise<string> {
  const { HLSStreamingSessionURL } = await media.send(new GetHLSStreamingSessionURLCommand(input));
  return HLSStreamingSessionURL ?? expect.fail('no HLSStreamingSessionURL');
}

async function text(url: string): Promise<string> {
  const response = await fetch(url);
  expect(response.status, await response.clone().text()).toBe(200);
  return response.text();
}

interface Segment {
  durationS: number;
  uri: string;
  programDateTime: string | undefined;
  map: string;
  discontinuity: boolean;
}

/** A media playlist's header tags and segments (the subset of RFC 8216 our playlists use). */
function parsePlaylist(body: string) {
  const lines = body.trim().split('\n');
  expect(lines[0]).toBe('#EXTM3U');
  const tag = (name: string) => lines.find((l) => l.startsWith(`#${name}:`))?.slice(name.length + 2);
  const segments: Segment[] = [];
  let map = '';
  let pdt: string | undefined;
  let duration = 0;
  let discontinuity = false;
  for (const line of lines) {
    if (line.startsWith('#EXT-X-MAP:URI="')) map = line.slice(16, -1);
    else if (line.startsWith('#EXT-X-PROGRAM-DATE-TIME:')) pdt = line.slice(25);
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line === '#EXT-X-DISCONTINUITY') discontinuity = true;
    else if (!line.startsWith('#')) {
      segments.push({ durationS: duration, uri: line, programDateTime: pdt, map, discontinuity });
      pdt = undefined;
      discontinuity = false;
    }
  }
  return {
    version: tag('EXT-X-VERSION'),
    targetDurationS: Number(tag('EXT-X-TARGETDURATION')),
    mediaSequence: Number(tag('EXT-X-MEDIA-SEQUENCE')),
    ended: lines.includes('#EXT-X-ENDLIST'),
    segments,
  };
}

const resolveUrl = (base: string, relative: string) => new URL(relative, base).toString();

describe('HLS sessions', () => {
  it('plays LIVE: master with codecs and resolution, a valid live playlist, media that decodes', async () => {
    const master = await sessionUrl({
      StreamName: live,
      PlaybackMode: 'LIVE',
      DisplayFragmentTimestamp: 'ALWAYS',
    });
    expect(master).toMatch(
      new RegExp(`^${gateway.endpoint}/hls/v1/getHLSMasterPlaylist\\.m3u8\\?SessionToken=`),
    );
    const masterBody = await text(master);
    expect(masterBody).toMatch(
      /#EXT-X-STREAM-INF:BANDWIDTH=\d+,CODECS="avc1\.[0-9a-f]{6},mp4a\.40\.2",RESOLUTION=640x360/,
    );
    const mediaUrl = resolveUrl(master, masterBody.trim().split('\n').at(-1) ?? '');
    const first = parsePlaylist(await text(mediaUrl));
    expect(first.version).toBe('7');
    expect(first.ended).toBe(false);
    expect(first.segments.length).toBeGreaterThanOrEqual(3);
    expect(first.segments.length).toBeLessThanOrEqual(5);
    const listed = await recentFragments(media, live);
    for (const segment of first.segments) {
      expect(Math.round(segment.durationS)).toBeLessThanOrEqual(first.targetDurationS);
      const number = new URL(segment.uri, mediaUrl).searchParams.get('FragmentNumber');
      const fragment = listed.find((f) => f.FragmentNumber === number);
      expect(fragment, `fragment ${number} is listed`).toBeDefined();
      expect(segment.programDateTime).toBe(fragment?.ServerTimestamp?.toISOString());
    }

    // Init + the newest segment decode as H.264 + AAC; a Range request gets exactly its bytes.
    const last = first.segments.at(-1) as Segment;
    const init = Buffer.from(await (await fetch(resolveUrl(mediaUrl, last.map))).arrayBuffer());
    const segmentUrl = resolveUrl(mediaUrl, last.uri);
    const full = await fetch(segmentUrl);
    expect(full.headers.get('cache-control')).toContain('immutable');
    expect(full.headers.get('access-control-allow-origin')).toBe('*');
    const bytes = Buffer.from(await full.arrayBuffer());
    const probed = await probe(gateway.dataDir, Buffer.concat([init, bytes]));
    expect(probed.codecs.sort()).toEqual(['aac', 'h264']);
    const ranged = await fetch(segmentUrl, { headers: { range: 'bytes=100-199' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 100-199/${bytes.length}`);
    expect(Buffer.from(await ranged.arrayBuffer())).toEqual(bytes.subarray(100, 200));

    // Blocking reload: asking for the next media sequence returns once that fragment is indexed.
    const next = first.mediaSequence + first.segments.length;
    const reloaded = parsePlaylist(await text(`${mediaUrl}&_HLS_msn=${next}`));
    expect(reloaded.mediaSequence + reloaded.segments.length - 1).toBeGreaterThanOrEqual(next);
    expect(reloaded.mediaSequence).toBeGreaterThanOrEqual(first.mediaSequence);
    expect(reloaded.targetDurationS).toBe(first.targetDurationS);
  });

  it('plays LIVE_REPLAY from a past start at real-time pace, without an end', async () => {
    const listed = await recentFragments(media, live);
    const start = listed[0]?.ServerTimestamp as Date;
    const master = await sessionUrl({
      StreamName: live,
      PlaybackMode: 'LIVE_REPLAY',
      HLSFragmentSelector: {
        FragmentSelectorType: 'SERVER_TIMESTAMP',
        TimestampRange: { StartTimestamp: start },
      },
      MaxMediaPlaylistFragmentResults: 3,
    });
    const mediaUrl = resolveUrl(master, (await text(master)).trim().split('\n').at(-1) ?? '');
    const first = parsePlaylist(await text(mediaUrl));
    expect(first.ended).toBe(false);
    // The replay starts at StartTimestamp: the stream's first fragment, not the live edge.
    expect(new URL(first.segments[0]?.uri ?? '', mediaUrl).searchParams.get('FragmentNumber')).toBe(
      listed[0]?.FragmentNumber,
    );
    expect(first.segments.length).toBeLessThanOrEqual(3);
    // The window moves forward with wall time (1 s GOPs: two seconds move it by about two fragments).
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    const later = parsePlaylist(await text(mediaUrl));
    expect(later.mediaSequence + later.segments.length).toBeGreaterThan(
      first.mediaSequence + first.segments.length,
    );
    expect(later.mediaSequence).toBeGreaterThanOrEqual(first.mediaSequence);
  });

  it('plays ON_DEMAND over a past range, complete and ended, with a CORS preflight', async () => {
    const listed = await recentFragments(media, live);
    const from = listed[0]?.ServerTimestamp as Date;
    const to = listed.at(-1)?.ServerTimestamp as Date;
    const master = await sessionUrl({
      StreamName: live,
      PlaybackMode: 'ON_DEMAND',
      HLSFragmentSelector: {
        FragmentSelectorType: 'SERVER_TIMESTAMP',
        TimestampRange: { StartTimestamp: from, EndTimestamp: to },
      },
    });
    const mediaUrl = resolveUrl(master, (await text(master)).trim().split('\n').at(-1) ?? '');
    const playlist = parsePlaylist(await text(mediaUrl));
    expect(playlist.ended).toBe(true);
    expect(playlist.segments.map((s) => new URL(s.uri, mediaUrl).searchParams.get('FragmentNumber'))).toEqual(
      listed.map((f) => f.FragmentNumber),
    );
    // DiscontinuityMode ALWAYS (the KVS default): a discontinuity between every two fragments.
    expect(playlist.segments.slice(1).every((s) => s.discontinuity)).toBe(true);
    const preflight = await fetch(mediaUrl, {
      method: 'OPTIONS',
      headers: { origin: 'https://elsewhere.example' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('refuses forged, expired and foreign tokens, empty ranges and streams without retention', async () => {
    const master = await sessionUrl({ StreamName: live, PlaybackMode: 'LIVE' });
    const token = new URL(master).searchParams.get('SessionToken') as string;
    const forged = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    const forgedResponse = await fetch(
      `${gateway.endpoint}/hls/v1/getHLSMediaPlaylist.m3u8?SessionToken=${forged}`,
    );
    expect([forgedResponse.status, forgedResponse.headers.get('x-amzn-errortype')]).toEqual([
      401,
      'NotAuthorizedException',
    ]);
    const missing = await fetch(`${gateway.endpoint}/hls/v1/getHLSMediaPlaylist.m3u8`);
    expect(missing.headers.get('x-amzn-errortype')).toBe('InvalidArgumentException');

    // A token of another stream cannot fetch this stream's fragments.
    const other = await createStream('hls-other', 1);
    const otherPublisher = publish(other, 6);
    publishers.push(otherPublisher);
    await expect
      .poll(async () => (await recentFragments(media, other)).length, { timeout: 20_000, interval: 200 })
      .toBeGreaterThanOrEqual(1);
    const otherToken =
      new URL(await sessionUrl({ StreamName: other, PlaybackMode: 'LIVE' })).searchParams.get(
        'SessionToken',
      ) ?? '';
    // Fragment numbers count per stream: pick one the live stream has and the other stream never got.
    await otherPublisher.exited;
    const otherNumbers = (await recentFragments(media, other)).map((f) => f.FragmentNumber ?? '');
    // (+5: the publish's last GOP may still be archived after ffmpeg exits.)
    const onlyLive = `9${String(Number((otherNumbers.at(-1) ?? '9').slice(1)) + 5).padStart(20, '0')}`;
    await expect
      .poll(async () => (await recentFragments(media, live)).some((f) => f.FragmentNumber === onlyLive), {
        timeout: 30_000,
      })
      .toBe(true);
    const foreign = await fetch(
      `${gateway.endpoint}/hls/v1/getMP4MediaFragment.mp4?SessionToken=${encodeURIComponent(otherToken)}&FragmentNumber=${onlyLive}`,
    );
    expect([foreign.status, foreign.headers.get('x-amzn-errortype')]).toEqual([
      404,
      'ResourceNotFoundException',
    ]);

    const error = async (input: GetHLSStreamingSessionURLCommandInput) =>
      media.send(new GetHLSStreamingSessionURLCommand(input)).then(
        () => 'succeeded',
        (e: Error) => e.name,
      );
    const past = {
      StartTimestamp: new Date(startedMs - 3_600_000),
      EndTimestamp: new Date(startedMs - 3_000_000),
    };
    expect(
      await error({
        StreamName: live,
        PlaybackMode: 'ON_DEMAND',
        HLSFragmentSelector: { FragmentSelectorType: 'SERVER_TIMESTAMP', TimestampRange: past },
      }),
    ).toBe('ResourceNotFoundException');
    expect(await error({ StreamName: live, PlaybackMode: 'ON_DEMAND' })).toBe('InvalidArgumentException');
    expect(await error({ StreamName: live, PlaybackMode: 'LIVE', Expires: 10 })).toBe(
      'InvalidArgumentException',
    );
    expect(await error({ StreamName: 'no-such-stream', PlaybackMode: 'LIVE' })).toBe(
      'ResourceNotFoundException',
    );
    expect(await error({ StreamName: await createStream('hls-noretention', 0), PlaybackMode: 'LIVE' })).toBe(
      'NoDataRetentionException',
    );
    const idle = await createStream('hls-idle', 1);
    expect(await error({ StreamName: idle, PlaybackMode: 'LIVE' })).toBe('ResourceNotFoundException');

    // Sessions per stream are bounded (10 active).
    const results: string[] = [];
    for (let i = 0; i < 11; i += 1)
      results.push(
        await error({
          StreamName: other,
          PlaybackMode: 'ON_DEMAND',
          HLSFragmentSelector: {
            FragmentSelectorType: 'SERVER_TIMESTAMP',
            TimestampRange: {
              StartTimestamp: new Date(startedMs - 60_000),
              EndTimestamp: new Date(Date.now() + 60_000),
            },
          },
        }),
      );
    expect(results.filter((r) => r === 'ClientLimitExceededException').length).toBeGreaterThanOrEqual(1);

    // Past its Expires (300 s by default) a session is refused.
    clockOffsetMs = 301_000;
    try {
      const expired = await fetch(master);
      expect([expired.status, expired.headers.get('x-amzn-errortype')]).toEqual([
        401,
        'NotAuthorizedException',
      ]);
      expect(await expired.text()).toContain('expired');
    } finally {
      clockOffsetMs = 0;
    }
  });
});
