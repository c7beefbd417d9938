import { describe, expect, it } from 'vitest';
import { parseRtspUrl, RtspUrlError, redactSecrets } from '../../../src/ingest/rtsp/index.ts';

describe('parseRtspUrl', () => {
  it('merges separate credentials, percent-encoding them, and redacts the password', () => {
    const url = parseRtspUrl('rtsp://cam.local:554/stream1?channel=1', {
      username: 'admin',
      password: 'p@ss:w/rd',
    });
    expect(url.url).toBe('rtsp://admin:p%40ss%3Aw%2Frd@cam.local:554/stream1?channel=1');
    expect(url.redacted).toBe('rtsp://admin:***@cam.local:554/stream1?channel=1');
    expect(url.secrets).toEqual(expect.arrayContaining(['p%40ss%3Aw%2Frd', 'p@ss:w/rd']));
  });

  it('keeps credentials given in the URL, and accepts rtsps and URLs without credentials', () => {
    expect(parseRtspUrl('rtsp://u:secret@10.0.0.5/live').redacted).toBe('rtsp://u:***@10.0.0.5/live');
    expect(parseRtspUrl('rtsps://10.0.0.5:322/live')).toMatchObject({
      redacted: 'rtsps://10.0.0.5:322/live',
      secrets: [],
    });
  });

  it.each([
    ['http://cam/live', /scheme must be rtsp/],
    ['file:///etc/passwd', /scheme must be rtsp/],
    ['-i/etc/passwd', /not a valid URL/],
    ['rtsp://cam/live\n-y', /control characters/],
    ['rtsp://cam/live x', /whitespace/],
    ['rtsp://cam/live#frag', /fragment/],
    ['rtsp://:pw@cam/live', /password needs a username/],
    [`rtsp://cam/${'a'.repeat(2048)}`, /longer than/],
  ])('refuses %j', (raw, message) => {
    expect(() => parseRtspUrl(raw)).toThrow(RtspUrlError);
    expect(() => parseRtspUrl(raw)).toThrow(message);
  });
});

describe('redactSecrets', () => {
  it('removes passwords from ffmpeg messages, in URLs and on their own', () => {
    const text = 'rtsp://admin:hunter2@cam/live: 401 Unauthorized (password hunter2)';
    expect(redactSecrets(text, ['hunter2'])).toBe(
      'rtsp://admin:***@cam/live: 401 Unauthorized (password ***)',
    );
    expect(redactSecrets('rtsps://a:b@host/x', [])).toBe('rtsps://a:***@host/x');
  });
});
