#!/usr/bin/env node
// The `streamgate` command. In a source checkout it (re)builds dist/ when it is missing or older than
// src/, so `npm ci && npm start` works with no separate build step; then it runs dist/cli.js.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = join(root, 'dist', '.build-stamp');

function newestMtime(path) {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  let newest = info.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

if (existsSync(join(root, 'src'))) {
  const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'].map((p) => join(root, p));
  const sourceTime = Math.max(...inputs.filter((p) => existsSync(p)).map(newestMtime));
  const builtTime = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (builtTime < sourceTime) {
    console.error('streamgate: building dist/ (src/ changed since the last build)…');
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    if (!existsSync(tsc)) {
      console.error('streamgate: TypeScript is missing; run `npm ci` first.');
      process.exit(1);
    }
    const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
      cwd: root,
      stdio: 'inherit',
    });
    if (result.status !== 0) {
      console.error('streamgate: the build failed; see the TypeScript errors above.');
      process.exit(result.status ?? 1);
    }
    writeFileSync(stamp, `${new Date().toISOString()}\n`);
  }
}

const { cli } = await import(pathToFileURL(join(root, 'dist', 'cli.js')).href);
await cli(process.argv.slice(2));
