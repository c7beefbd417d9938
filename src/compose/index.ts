// Composition of the gateway's larger services, split out of app.ts (which calls them in order and
// alone may import this folder). May import every module, as app.ts does.
export {
  startVideoServices,
  type VideoDependencies,
  type VideoOverrides,
  type VideoServices,
} from './video.ts';
