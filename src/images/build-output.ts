/**
 * Reads the lines images/build.sh prints. Pure: the spawning lives in ensure-image.ts.
 *
 * The script ends each requested image with one line
 *   codeyard-image: <cached|built> <reference> <content hash> <elapsed>ms
 * and everything before it is progress meant for people.
 */
export type ImageBuildOutcome = 'cached' | 'built';

export interface ImageBuildResult {
  readonly outcome: ImageBuildOutcome;
  readonly reference: string;
  readonly contentHash: string;
  readonly elapsedMs: number;
}

export type BuildLine =
  | { readonly kind: 'result'; readonly result: ImageBuildResult }
  | { readonly kind: 'progress'; readonly message: string };

const resultLine = /^codeyard-image: (cached|built) (\S+) ([0-9a-f]{64}) (\d+)ms$/;

export function parseBuildLine(line: string): BuildLine {
  const match = resultLine.exec(line);
  if (match === null) return { kind: 'progress', message: line };
  const [, outcome, reference, contentHash, elapsedMs] = match;
  return {
    kind: 'result',
    result: {
      outcome: outcome as ImageBuildOutcome,
      reference: reference as string,
      contentHash: contentHash as string,
      elapsedMs: Number(elapsedMs),
    },
  };
}

/**
 * Splits a stream of text chunks into whole lines (a chunk may end mid-line). `flush` returns what
 * is left when the stream ends.
 */
export class LineSplitter {
  private partial = '';

  push(chunk: string): string[] {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop() ?? '';
    return lines.map(stripCarriageReturn);
  }

  flush(): string[] {
    const rest = this.partial;
    this.partial = '';
    return rest === '' ? [] : [stripCarriageReturn(rest)];
  }
}

function stripCarriageReturn(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
