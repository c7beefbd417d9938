// ffmpeg adapter: the only place that spawns ffmpeg. Resolves the binary and runs stream-copy remuxes
// to fragmented MP4 (never transcodes), with bounded stderr and SIGTERM→SIGKILL shutdown.
// Imports node built-ins and logging only.

export { type FfmpegExit, type RemuxOptions, type RemuxProcess, spawnRemuxToFmp4 } from './remux-to-fmp4.ts';
export { FfmpegNotFoundError, resolveFfmpeg } from './resolve-ffmpeg.ts';
export { StderrTail } from './stderr-tail.ts';
