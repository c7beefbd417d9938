// The browser console: the player page (list streams, play LIVE / ON_DEMAND, fragment timeline).
// Static files from public/console/ and hls.js from node_modules; imports http types only.
export { type ConsoleRoute, consoleRoutes } from './console-routes.ts';
