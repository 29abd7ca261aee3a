// codeyard web UI: plain ES module, no build step. Live status arrives over one WebSocket
// watch (browsers allow only six HTTP/1.1 connections per origin; SSE in a few tabs exhausts them).
const tokenKey = 'codeyard.token';
const state = {
  token: '',
  user: '',
  admin: false,
  codespaces: new Map(),
  resourceVersion: '0',
  socket: null,
  retryMs: 500,
};
const $ = (selector) => document.querySelector(selector);

function takeTokenFromUrl() {
  const match = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (match) {
    sessionStorage.setItem(tokenKey, decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(tokenKey) ?? '';
}

function claimsOf(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/')));
  } catch {
    return {};
  }
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${state.token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const payload = await response.json().catch(() => ({}));
  if (response.status === 401) signOut('Your token was refused or has expired.');
  if (!response.ok) throw Object.assign(new Error(payload.message ?? response.statusText), payload);
  return payload;
}

function signOut(message) {
  sessionStorage.removeItem(tokenKey);
  // Forget the socket first: its close handler reconnects only the current socket, and a
  // signed-out page must not keep retrying with a refused token.
  const socket = state.socket;
  state.socket = null;
  socket?.close();
  $('#app').hidden = true;
  $('#login').hidden = false;
  if (message) $('#login p').textContent = message;
}

function setConnection(text, live) {
  const el = $('#connection');
  el.textContent = text;
  el.className = `connection ${live ? 'live' : 'down'}`;
}

function conditionText(codespace) {
  const failed = codespace.status.conditions.find((c) => c.status === 'False' && c.message);
  if (codespace.status.phase === 'Failed' || failed) return failed?.message ?? '';
  if (codespace.status.stopReason && codespace.status.phase === 'Stopped')
    return `stopped: ${codespace.status.stopReason}`;
  return '';
}

function button(label, className, onClick, ariaLabel) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  if (className) b.className = className;
  b.setAttribute('aria-label', ariaLabel);
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await onClick();
    } catch (error) {
      alert(error.message);
    } finally {
      b.disabled = false;
    }
  });
  return b;
}

function render() {
  const tbody = $('#codespaces tbody');
  const items = [...state.codespaces.values()].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  $('#empty').hidden = items.length > 0;
  // An empty table of headers reads as a broken page; the empty-state line says it instead.
  $('#codespaces').hidden = items.length === 0;
  tbody.replaceChildren(
    ...items.map((cs) => {
      const name = cs.metadata.name;
      const row = document.createElement('tr');
      row.dataset.name = name;
      const phase = document.createElement('span');
      phase.className = `phase phase-${cs.status.phase}`;
      phase.textContent = cs.status.phase;
      phase.setAttribute('data-testid', `phase-${name}`);
      const cells = [name, phase, cs.status.nodeName ?? '—', conditionText(cs)].map((content) => {
        const td = document.createElement('td');
        td.append(content);
        return td;
      });
      cells[3].className = 'detail';
      const actions = document.createElement('td');
      actions.className = 'actions';
      if (cs.status.phase === 'Running') {
        actions.append(button('Open', 'primary', () => openCodespace(name), `Open ${name}`));
      }
      if (cs.spec.running)
        actions.append(
          button(
            'Stop',
            '',
            () => api('PATCH', `/v1/codespaces/${name}`, { spec: { running: false } }),
            `Stop ${name}`,
          ),
        );
      else
        actions.append(
          button(
            'Start',
            '',
            () => api('PATCH', `/v1/codespaces/${name}`, { spec: { running: true } }),
            `Start ${name}`,
          ),
        );
      if (!cs.metadata.deletionTimestamp) {
        actions.append(
          button(
            'Delete',
            'danger',
            async () => {
              if (confirm(`Delete ${name} and all its files?`)) await api('DELETE', `/v1/codespaces/${name}`);
            },
            `Delete ${name}`,
          ),
        );
      }
      row.append(...cells, actions);
      return row;
    }),
  );
}

async function openCodespace(name) {
  const grant = await api('POST', `/v1/codespaces/${name}/access`, {});
  window.open(grant.url, `codeyard-${name}`);
}

async function relist() {
  const list = await api('GET', '/v1/codespaces');
  state.codespaces = new Map(list.items.map((cs) => [cs.metadata.name, cs]));
  state.resourceVersion = list.metadata.resourceVersion;
  render();
}

function watch() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const url = `${scheme}://${location.host}/v1/watch/codespaces?resourceVersion=${encodeURIComponent(state.resourceVersion)}`;
  // Browsers cannot set an Authorization header on a WebSocket; the token travels as a subprotocol.
  const socket = new WebSocket(url, ['codeyard.watch.v1', `codeyard.token.${state.token}`]);
  state.socket = socket;
  socket.onopen = () => {
    setConnection('live', true);
    state.retryMs = 500;
  };
  socket.onmessage = async (message) => {
    const event = JSON.parse(message.data);
    if (event.type === 'ERROR') {
      if (event.code === 'RESOURCE_VERSION_TOO_OLD') await relist();
      return;
    }
    state.resourceVersion = String(event.resourceVersion);
    if (event.type === 'BOOKMARK') return;
    if (event.type === 'DELETED') state.codespaces.delete(event.object.metadata.name);
    else state.codespaces.set(event.object.metadata.name, event.object);
    render();
  };
  socket.onclose = () => {
    if (state.socket !== socket) return;
    setConnection('reconnecting…', false);
    setTimeout(watch, state.retryMs);
    state.retryMs = Math.min(state.retryMs * 2, 10_000);
  };
}

const fieldInputs = {
  'metadata.name': '#create-name',
  'spec.image': '#create-image',
  'spec.resources.cpu': '#create-cpu',
  'spec.resources.memoryMiB': '#create-memory',
  'spec.idleTimeoutSeconds': '#create-idle',
  'spec.repository': '#create-repo',
  'spec.repository.url': '#create-repo',
};

function showFieldError(selector, message) {
  const input = $(selector);
  input.setAttribute('aria-invalid', message ? 'true' : 'false');
  $(`#${input.id}-error`).textContent = message;
}

function validateCreateForm(form) {
  let ok = true;
  for (const selector of new Set(Object.values(fieldInputs))) showFieldError(selector, '');
  const name = form.name.value.trim();
  if (!/^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$/.test(name)) {
    showFieldError(
      '#create-name',
      'Use 1–40 lower-case letters, digits or dashes, starting and ending with a letter or digit.',
    );
    ok = false;
  }
  const idle = Number(form.idleMinutes.value);
  if (!(idle >= 5 && idle <= 240)) {
    showFieldError('#create-idle', 'Between 5 and 240 minutes.');
    ok = false;
  }
  return ok;
}

async function createCodespace(event) {
  event.preventDefault();
  const form = event.target;
  $('#create-error').textContent = '';
  if (!validateCreateForm(form)) return;
  const spec = {
    running: true,
    resources: { cpu: Number(form.cpu.value), memoryMiB: Number(form.memoryMiB.value) },
    idleTimeoutSeconds: Number(form.idleMinutes.value) * 60,
  };
  if (form.image.value.trim()) spec.image = form.image.value.trim();
  if (form.repository.value.trim()) spec.repository = { url: form.repository.value.trim() };
  try {
    await api('POST', '/v1/codespaces', { metadata: { name: form.name.value.trim() }, spec });
    form.name.value = '';
  } catch (error) {
    const selector = fieldInputs[error.field];
    if (selector) showFieldError(selector, error.message);
    else $('#create-error').textContent = error.message;
  }
}

async function refreshNodes() {
  try {
    const list = await api('GET', '/v1/nodes');
    $('#nodes tbody').replaceChildren(
      ...list.items.map((node) => {
        const row = document.createElement('tr');
        const ready = node.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
        const flags = [
          ready ? 'Ready' : 'NotReady',
          node.unschedulable ? 'Cordoned' : '',
          node.draining ? 'Draining' : '',
        ];
        const used = node.capacity.slots - node.allocatable.slots;
        for (const text of [
          node.name,
          flags.filter(Boolean).join(', '),
          `${used} / ${node.capacity.slots}`,
          new Date(node.lastHeartbeatTime).toLocaleTimeString(),
        ]) {
          const td = document.createElement('td');
          td.textContent = text;
          row.append(td);
        }
        return row;
      }),
    );
  } catch {
    // The nodes view is informative; the next refresh tries again.
  }
}

async function start() {
  state.token = takeTokenFromUrl();
  $('#login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    sessionStorage.setItem(tokenKey, $('#token-input').value.trim());
    location.reload();
  });
  if (!state.token) {
    signOut();
    return;
  }
  const claims = claimsOf(state.token);
  state.user = claims.sub ?? '';
  state.admin = claims.role === 'admin';
  $('#identity').textContent = `${state.user}${state.admin ? ' (admin)' : ''}`;
  $('#login').hidden = true;
  $('#app').hidden = false;
  $('#create-form').addEventListener('submit', createCodespace);
  await relist();
  watch();
  if (state.admin) {
    $('#nodes-section').hidden = false;
    await refreshNodes();
    // Node slots change with every heartbeat; a coarse refresh is enough for an overview.
    setInterval(refreshNodes, 5000);
  }
}

start().catch((error) => setConnection(error.message, false));
