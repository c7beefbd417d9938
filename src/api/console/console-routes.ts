import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Route } from '../router.ts';

/** `public/console/`: three levels up from `src/api/console/` and from the built `dist/api/console/`. */
const PUBLIC_DIR = fileURLToPath(new URL('../../../public/console/', import.meta.url));

/**
 * The player page at `/` and its assets: plain HTML and JavaScript from `public/console/`, and hls.js
 * from node_modules (no build step). The page signs its API calls itself; these routes are public.
 */
export async function consoleRoutes(): Promise<Route[]> {
  const hlsJs = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');
  const assets: Array<[string, string, string]> = [
    ['/', `${PUBLIC_DIR}index.html`, 'text/html; charset=utf-8'],
    ['/console/player.js', `${PUBLIC_DIR}player.js`, 'text/javascript; charset=utf-8'],
    ['/console/hls.min.js', hlsJs, 'text/javascript; charset=utf-8'],
  ];
  return Promise.all(
    assets.map(async ([path, file, contentType]) => {
      const body = await readFile(file);
      return {
        method: 'GET' as const,
        path,
        service: 'console',
        handler: async () => ({
          status: 200,
          headers: {
            'content-type': contentType,
            'cache-control': 'no-cache',
            'x-content-type-options': 'nosniff',
            ...(path === '/'
              ? {
                  'content-security-policy':
                    "default-src 'self'; media-src 'self' blob:; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'",
                }
              : {}),
          },
          body,
        }),
      };
    }),
  );
}
