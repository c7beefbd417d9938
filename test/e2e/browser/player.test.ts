import { randomBytes } from 'node:crypto';
import { CreateStreamCommand, KinesisVideoClient } from '@aws-sdk/client-kinesis-video';
import { KinesisVideoArchivedMediaClient } from '@aws-sdk/client-kinesis-video-archived-media';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishToken } from '../../../src/ingest/index.ts';
import { freePort } from '../../support/free-port.ts';
import { publishRtmp, type RtmpPublisher } from '../../support/rtmp-publisher.ts';
import { type RunningApp, startApp, TEST_KEYS } from '../../support/start-app.ts';
import { recentFragments } from '../../support/video.ts';

// The player page in headless Debian Chromium with hls.js: an ffmpeg publisher streams over RTMP, the
// page signs its own API calls with the access key typed into it, and plays LIVE, an archived range to
// its end, and a range spanning a publisher reconnect (a discontinuity hls.js must play through).

const SECRET = 'browser-e2e-publish-secret-0123456789';
let gateway: RunningApp;
let browser: Browser;
let kvs: KinesisVideoClient;
let media: KinesisVideoArchivedMediaClient;
let rtmpPort: number;
const publishers: RtmpPublisher[] = [];

beforeAll(async () => {
  rtmpPort = await freePort();
  gateway = await startApp({
    env: { STREAMGATE_RTMP_PORT: String(rtmpPort), STREAMGATE_PUBLISH_SECRET: SECRET },
  });
  const client = { endpoint: gateway.endpoint, region: 'us-east-1', credentials: TEST_KEYS, maxAttempts: 1 };
  kvs = new KinesisVideoClient(client);
  media = new KinesisVideoArchivedMediaClient(client);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'],
  });
});
afterAll(async () => {
  for (const p of publishers) p.kill();
  await browser?.close();
  await gateway?.stop();
  kvs?.destroy();
  media?.destroy();
});

async function createStream(prefix: string): Promise<string> {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  await kvs.send(new CreateStreamCommand({ StreamName: name, DataRetentionInHours: 1 }));
  return name;
}

function publish(name: string, seconds: number, bFrames = false): RtmpPublisher {
  const publisher = publishRtmp(
    `rtmp://127.0.0.1:${rtmpPort}/live/${name}?key=${publishToken(SECRET, name)}`,
    { seconds, gopSeconds: 1, bFrames },
  );
  publishers.push(publisher);
  return publisher;
}

/** Opens the player, types the access key and waits for the stream to be listed. */
async function openPlayer(stream: string): Promise<Page> {
  const page = await browser.newPage();
  const consoleErrors: string[] = [];
  page.on('pageerror', (error) => consoleErrors.push(error.message));
  await page.goto(`${gateway.endpoint}/?stream=${stream}`);
  await page.fill('input[name=accessKeyId]', TEST_KEYS.accessKeyId);
  await page.fill('input[name=secretAccessKey]', TEST_KEYS.secretAccessKey);
  await page.click('button[type=submit]');
  // Polled with page.evaluate (CDP, outside the page's CSP): waitForFunction's in-page polling
  // evaluates strings, which the page's Content-Security-Policy (no 'unsafe-eval') rightly forbids.
  const listed = `document.getElementById('stream').value === ${JSON.stringify(stream)}`;
  for (const deadline = Date.now() + 15_000; !(await page.evaluate<boolean>(listed)); ) {
    if (Date.now() > deadline) {
      const why = `${await page.textContent('#status')} ${consoleErrors.join('; ')}`;
      throw new Error(`the page did not list ${stream}: ${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(consoleErrors).toEqual([]);
  return page;
}

interface Playback {
  currentTime: number;
  ended: boolean;
  decodedFrames: number;
  fatalErrors: unknown[];
  /** Distinct discontinuity counters (hls.js `cc`) of the fragments played. */
  discontinuities: number;
}

// Evaluated in the page (a string, so this Node-typed file needs no DOM types).
const PLAYBACK = `(() => {
  const video = document.getElementById('video');
  const player = window.streamgatePlayer;
  return {
    currentTime: video.currentTime,
    ended: video.ended,
    decodedFrames: video.getVideoPlaybackQuality().totalVideoFrames,
    fatalErrors: player.errors.filter((e) => e.fatal),
    discontinuities: new Set(player.events.map((e) => e.cc)).size,
  };
})()`;
const playback = (page: Page): Promise<Playback> => page.evaluate<Playback>(PLAYBACK);

describe('player page (Chromium + hls.js)', () => {
  it('plays LIVE: time advances, frames decode, no fatal hls.js error', async () => {
    const name = await createStream('live');
    publish(name, 40);
    await expect
      .poll(async () => (await recentFragments(media, name)).length, { timeout: 30_000, interval: 250 })
      .toBeGreaterThanOrEqual(2);
    const page = await openPlayer(name);
    await page.click('#play-live');
    await expect
      .poll(async () => (await playback(page)).currentTime, { timeout: 30_000, interval: 250 })
      .toBeGreaterThan(3);
    const state = await playback(page);
    expect(state.decodedFrames).toBeGreaterThan(30);
    expect(state.fatalErrors).toEqual([]);
    const start = state.currentTime;
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await playback(page)).currentTime).toBeGreaterThan(start + 1);
    await page.close();
  });

  it('plays an ON_DEMAND range that spans a publisher reconnect (with new encoder settings) to its end', async () => {
    const name = await createStream('vod');
    await publish(name, 5).exited;
    // The publisher comes back as OBS's x264 defaults would: High profile with B-frames, so the
    // second session's fragments carry composition offsets.
    await publish(name, 5, true).exited;
    await expect
      .poll(async () => (await recentFragments(media, name)).length, { timeout: 20_000, interval: 250 })
      .toBeGreaterThanOrEqual(8);
    const listed = await recentFragments(media, name);
    const page = await openPlayer(name);
    // The timeline draws the archived fragments of the last hour.
    await expect
      .poll(() => page.evaluate<number>(`document.querySelectorAll('#timeline .fragment').length`), {
        timeout: 10_000,
      })
      .toBeGreaterThanOrEqual(listed.length);
    const from = (listed[0]?.ServerTimestamp?.getTime() ?? 0) - 1_000;
    const to = (listed.at(-1)?.ServerTimestamp?.getTime() ?? 0) + 1_000;
    await page.evaluate(`(() => {
      const local = (ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60000).toISOString().slice(0, 19);
      document.getElementById('from').value = local(${from});
      document.getElementById('to').value = local(${to});
    })()`);
    await page.click('#play-range');
    await expect
      .poll(async () => (await playback(page)).ended, { timeout: 40_000, interval: 250 })
      .toBe(true);
    const state = await playback(page);
    expect(state.fatalErrors).toEqual([]);
    // Two publishes: two init versions, so hls.js crossed one discontinuity (two cc values).
    expect(state.discontinuities).toBeGreaterThanOrEqual(2);
    expect(state.currentTime).toBeGreaterThan(8);
    expect(state.decodedFrames).toBeGreaterThan(200);
    await page.close();
  });
});
