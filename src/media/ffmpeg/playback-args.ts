/** Still-image request of `stillImageArgs`. */
export interface StillImageOptions {
  format: 'JPEG' | 'PNG';
  /** 1 (smallest) … 100 (best); JPEG only. */
  jpegQuality: number;
  /** Output size; with only `heightPixels` the width keeps the aspect ratio. */
  widthPixels?: number | undefined;
  heightPixels?: number | undefined;
  /** Decode only keyframes (`-skip_frame nokey`): the first keyframe of the input is the image. */
  keyframesOnly: boolean;
  /** Media time of the wanted frame from the start of the input, in ms (decoded and discarded up to it). */
  offsetMs: number;
}

/** `ffmpeg -i pipe:0 -c copy -movflags +faststart <file>`: fragmented MP4 in, plain MP4 (moov first) out. */
export function faststartMp4Args(outputFile: string): string[] {
  return [
    ...['-hide_banner', '-nostats', '-loglevel', 'error', '-y'],
    ...['-f', 'mp4', '-i', 'pipe:0'],
    ...['-map', '0', '-c', 'copy', '-f', 'mp4', '-movflags', '+faststart', outputFile],
  ];
}

/** One JPEG or PNG of the first frame at or after `offsetMs` of an MP4 on stdin, written to stdout. */
export function stillImageArgs(options: StillImageOptions): string[] {
  const { widthPixels: w, heightPixels: h } = options;
  const filters: string[] = [];
  if (w !== undefined || h !== undefined) filters.push(`scale=${w ?? -2}:${h ?? -2}`);
  // The MJPEG encoder wants full-range YUV.
  if (options.format === 'JPEG') filters.push('scale=out_range=full', 'format=yuvj420p');
  // ffmpeg's JPEG scale: 2 (best) … 31 (smallest).
  const qscale = Math.round(31 - ((Math.min(100, Math.max(1, options.jpegQuality)) - 1) * 29) / 99);
  return [
    ...['-hide_banner', '-nostats', '-loglevel', 'error'],
    ...(options.keyframesOnly ? ['-skip_frame', 'nokey'] : []),
    ...['-f', 'mp4', '-i', 'pipe:0', '-map', '0:v:0', '-an', '-sn'],
    ...(options.offsetMs > 0 ? ['-ss', (options.offsetMs / 1000).toFixed(3)] : []),
    ...['-frames:v', '1', '-vf', filters.length > 0 ? filters.join(',') : 'null'],
    ...(options.format === 'JPEG' ? ['-c:v', 'mjpeg', '-q:v', String(qscale)] : ['-c:v', 'png']),
    ...['-f', 'image2pipe', 'pipe:1'],
  ];
}
