import { describe, expect, it } from 'vitest';
import { isDiscontinuity, masterPlaylist, mediaPlaylist } from '../../../src/hls/hls-playlists.ts';
import type { HlsSession } from '../../../src/hls/index.ts';
import type { FragmentMetadata } from '../../../src/video-archive/index.ts';

const T0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const fragment = (n: number, initVersion: string, startMs: number, durationMs = 1000): FragmentMetadata => ({
  fragmentNumber: `9${String(n).padStart(20, '0')}`,
  sizeBytes: 250_000,
  producerTimestampMs: startMs,
  serverTimestampMs: startMs + 1500,
  durationMs,
  initVersion,
  objectKey: `video/s/${n}`,
});
const session = (overrides: Partial<HlsSession> = {}): HlsSession => ({
  id: 'id',
  streamName: 's',
  streamArn: 'arn',
  mode: 'LIVE',
  timestampType: 'PRODUCER_TIMESTAMP',
  startMs: undefined,
  endMs: undefined,
  discontinuityMode: 'ON_DISCONTINUITY',
  displayTimestamps: true,
  maxFragments: 5,
  targetDurationS: 2,
  createdMs: T0,
  expiresMs: T0 + 300_000,
  ...overrides,
});
const a = 'aaaaaaaaaaaaaaaa';
const b = 'bbbbbbbbbbbbbbbb';

describe('mediaPlaylist', () => {
  const fragments = [fragment(7, a, T0), fragment(8, a, T0 + 1000), fragment(9, b, T0 + 60_000, 1500)];

  it('renders version 7 with the session target duration, sequence, maps, PDT and EXTINF', () => {
    const text = mediaPlaylist({
      session: session(),
      token: 't/k=',
      fragments,
      discontinuitySequence: 3,
      ended: false,
    });
    expect(text.split('\n')).toEqual([
      '#EXTM3U',
      '#EXT-X-VERSION:7',
      '#EXT-X-TARGETDURATION:2',
      '#EXT-X-MEDIA-SEQUENCE:7',
      '#EXT-X-DISCONTINUITY-SEQUENCE:3',
      '#EXT-X-INDEPENDENT-SEGMENTS',
      '#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES',
      `#EXT-X-MAP:URI="getMP4InitFragment.mp4?SessionToken=t%2Fk%3D&InitVersion=${a}"`,
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(T0).toISOString()}`,
      '#EXTINF:1.000,',
      'getMP4MediaFragment.mp4?SessionToken=t%2Fk%3D&FragmentNumber=900000000000000000007',
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + 1000).toISOString()}`,
      '#EXTINF:1.000,',
      'getMP4MediaFragment.mp4?SessionToken=t%2Fk%3D&FragmentNumber=900000000000000000008',
      '#EXT-X-DISCONTINUITY',
      `#EXT-X-MAP:URI="getMP4InitFragment.mp4?SessionToken=t%2Fk%3D&InitVersion=${b}"`,
      `#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + 60_000).toISOString()}`,
      '#EXTINF:1.500,',
      'getMP4MediaFragment.mp4?SessionToken=t%2Fk%3D&FragmentNumber=900000000000000000009',
      '',
    ]);
  });

  it('ends ON_DEMAND playlists and marks them VOD; omits PDT when not asked; server timestamps by choice', () => {
    const text = mediaPlaylist({
      session: session({ mode: 'ON_DEMAND', displayTimestamps: false }),
      token: 't',
      fragments,
      discontinuitySequence: 0,
      ended: true,
    });
    expect(text).toContain('#EXT-X-PLAYLIST-TYPE:VOD\n');
    expect(text).not.toContain('CAN-BLOCK-RELOAD');
    expect(text).not.toContain('PROGRAM-DATE-TIME');
    expect(text.trim().endsWith('#EXT-X-ENDLIST')).toBe(true);
    const server = mediaPlaylist({
      session: session({ timestampType: 'SERVER_TIMESTAMP' }),
      token: 't',
      fragments: fragments.slice(0, 1),
      discontinuitySequence: 0,
      ended: false,
    });
    expect(server).toContain(`#EXT-X-PROGRAM-DATE-TIME:${new Date(T0 + 1500).toISOString()}`);
  });

  it('places discontinuities per mode', () => {
    const [f7, f8, f9] = fragments as [FragmentMetadata, FragmentMetadata, FragmentMetadata];
    const gap = fragment(10, b, T0 + 90_000);
    expect([isDiscontinuity(session(), f7, f8), isDiscontinuity(session(), f8, f9)]).toEqual([false, true]);
    expect(isDiscontinuity(session(), f9, gap)).toBe(true); // same init, 28.5 s gap
    expect(isDiscontinuity(session({ discontinuityMode: 'ALWAYS' }), f7, f8)).toBe(true);
    expect(isDiscontinuity(session({ discontinuityMode: 'NEVER' }), f8, f9)).toBe(false);
    const never = mediaPlaylist({
      session: session({ discontinuityMode: 'NEVER' }),
      token: 't',
      fragments,
      discontinuitySequence: 0,
      ended: false,
    });
    expect(never).not.toContain('#EXT-X-DISCONTINUITY\n');
    expect(never.match(/#EXT-X-MAP/g)).toHaveLength(2); // a new init still needs its map
  });
});

describe('masterPlaylist', () => {
  it('names the codecs, resolution and bandwidth of the one variant', () => {
    const text = masterPlaylist('tok', {
      codecs: ['avc1.64001f', 'mp4a.40.2'],
      width: 1280,
      height: 720,
      bandwidthBps: 2_200_000.4,
    });
    expect(text).toBe(
      [
        '#EXTM3U',
        '#EXT-X-VERSION:7',
        '#EXT-X-INDEPENDENT-SEGMENTS',
        '#EXT-X-STREAM-INF:BANDWIDTH=2200000,CODECS="avc1.64001f,mp4a.40.2",RESOLUTION=1280x720',
        'getHLSMediaPlaylist.m3u8?SessionToken=tok',
        '',
      ].join('\n'),
    );
  });
});
