import type { NodeView } from '../../placement/node-view.js';
import { place } from '../../placement/place.js';
import { PlacementIndex } from '../../placement/placement-index.js';
import { codespaceUrlFor } from '../codespace-url.js';
import { findCondition, removeCondition, setCondition } from '../conditions.js';
import { progressing } from './deadlines.js';
import { healthOf, requeueAfter, type Pass } from './pass.js';

export function placeCodespace(pass: Pass): void {
  const { input, draft } = pass;
  const request = {
    uid: input.codespace.metadata.uid,
    resources: input.codespace.spec.resources,
    volumeNodeName: draft.volumeNodeName,
  };
  const options = {
    strategy: input.config.placementStrategy,
    maxContainersPerNode: input.config.maxContainersPerNode,
  };
  const result =
    input.nodeViews instanceof PlacementIndex
      ? input.nodeViews.place(
          request,
          options,
          input.notReadyNodeNames ?? notReadyAmong(pass, input.nodeViews),
        )
      : place(request, judgedViews(pass, input.nodeViews), options);
  if (result.kind === 'unschedulable') {
    draft.phase = 'Pending';
    delete draft.url;
    removeCondition(draft.conditions, 'Progressing');
    setCondition(
      draft.conditions,
      { type: 'Scheduled', status: 'False', reason: result.reason, message: result.message },
      pass.nowIso,
    );
    requeueAfter(pass, input.config.unschedulableRetryMs);
    return;
  }
  const nodeName = result.nodeName;
  pass.actions.push({ kind: 'place', nodeName });
  draft.nodeName = nodeName;
  const proxyUrl = input.nodes.get(nodeName)?.record?.proxyUrl;
  if (proxyUrl !== undefined) draft.url = codespaceUrlFor(proxyUrl, input.codespace.metadata.name);
  delete draft.restartCount;
  setCondition(
    draft.conditions,
    { type: 'Scheduled', status: 'True', reason: 'Placed', message: `placed on node ${nodeName}` },
    pass.nowIso,
  );
  // Why it moved (NodeLost, NodeTerminating) stays readable until it runs again.
  const readyReason = findCondition(draft.conditions, 'Ready')?.reason;
  if (readyReason !== 'NodeLost' && readyReason !== 'NodeTerminating') {
    setCondition(
      draft.conditions,
      {
        type: 'Ready',
        status: 'False',
        reason: 'Scheduled',
        message: `waiting for node ${nodeName} to start it`,
      },
      pass.nowIso,
    );
  }
  progressing(pass, 'Scheduled', `placed on node ${nodeName}; asking it to start the container`);
  // The placement is recorded first; the next pass sends the command.
  requeueAfter(pass, 0);
}

/**
 * Placement filters on the node's own readiness; our judgement of silence is added here. The
 * views are copied only once a node judged not Ready is met (usually none: no copy at all).
 */
function judgedViews(pass: Pass, nodeViews: readonly NodeView[]): readonly NodeView[] {
  let views = nodeViews;
  const notReady = pass.input.notReadyNodeNames;
  for (let i = 0; (notReady === undefined || notReady.size > 0) && i < views.length; i += 1) {
    const view = views[i]!;
    if (!view.ready) continue;
    if (notReady === undefined ? healthOf(pass, view.name) === 'Ready' : !notReady.has(view.name)) continue;
    if (views === nodeViews) views = views.slice();
    (views as NodeView[])[i] = { ...view, ready: false };
  }
  return views;
}

function notReadyAmong(pass: Pass, index: PlacementIndex): Set<string> {
  return new Set(
    index
      .views()
      .filter((view) => healthOf(pass, view.name) !== 'Ready')
      .map((view) => view.name),
  );
}
