/**
 * The workspace images codeyard builds itself (see images/README.md). Their names are stable: the
 * node agent runs `reference`, and `images/build.sh <buildTarget>` produces it.
 */
export type WorkspaceImageName = 'test' | 'workspace';

export interface WorkspaceImage {
  /** What `docker run` uses; `latest` always points at the newest build for this machine. */
  readonly reference: string;
  /** The argument images/build.sh takes. */
  readonly buildTarget: WorkspaceImageName;
  readonly description: string;
}

export const workspaceImages: Readonly<Record<WorkspaceImageName, WorkspaceImage>> = {
  test: {
    reference: 'codeyard/test-workspace:latest',
    buildTarget: 'test',
    description: 'tiny Node server (HTTP, WebSocket echo, files) that starts in milliseconds',
  },
  workspace: {
    reference: 'codeyard/workspace:latest',
    buildTarget: 'workspace',
    description: 'code-server (browser VS Code) on the codeyard base image',
  },
};

/** The port every codeyard workspace image listens on inside its container. */
export const workspaceContainerPort = 8080;

/** The image label that holds the content hash a build was made from. */
export const imageHashLabel = 'dev.codeyard.image.hash';
