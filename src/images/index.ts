export { ensureImage, imageBuildTimeoutMsDefault, type EnsureImageOptions } from './ensure-image.js';
export type { ImageBuildOutcome, ImageBuildResult } from './build-output.js';
export {
  imageHashLabel,
  workspaceContainerPort,
  workspaceImages,
  type WorkspaceImage,
  type WorkspaceImageName,
} from './image-catalog.js';
