import type { Codespace } from '../model/codespace.js';

/** A plain aligned table: what `kubectl get` prints, easy to read and to grep. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

export function age(fromIso: string | undefined, nowMs: number): string {
  if (!fromIso) return '-';
  const seconds = Math.max(0, Math.floor((nowMs - Date.parse(fromIso)) / 1000));
  if (seconds < 120) return `${seconds}s`;
  if (seconds < 7200) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 172_800) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86_400)}d`;
}

export const codespaceColumns = ['NAME', 'OWNER', 'PHASE', 'RUNNING', 'NODE', 'REASON', 'AGE'] as const;

export function codespaceRow(codespace: Codespace, nowMs: number): string[] {
  const failed = codespace.status.conditions.find((c) => c.status === 'False' && c.reason);
  return [
    codespace.metadata.name,
    codespace.metadata.owner,
    codespace.status.phase,
    String(codespace.spec.running),
    codespace.status.nodeName ?? '-',
    codespace.status.stopReason ?? failed?.reason ?? '-',
    age(codespace.metadata.creationTimestamp, nowMs),
  ];
}

export function renderCodespaces(items: readonly Codespace[], nowMs: number): string {
  if (items.length === 0) return 'No codespaces.';
  return renderTable(
    codespaceColumns,
    items.map((c) => codespaceRow(c, nowMs)),
  );
}

export function renderCodespaceDetail(codespace: Codespace, nowMs: number): string {
  const { metadata, spec, status } = codespace;
  const lines = [
    `Name:         ${metadata.name}`,
    `Owner:        ${metadata.owner}`,
    `Image:        ${spec.image}`,
    `Running:      ${spec.running}`,
    `Phase:        ${status.phase}${status.stopReason ? ` (${status.stopReason})` : ''}`,
    `Node:         ${status.nodeName ?? '-'}`,
    `URL:          ${status.url ?? '-'}`,
    `Resources:    ${spec.resources.cpu} cpu, ${spec.resources.memoryMiB} MiB, ${spec.resources.diskGiB} GiB`,
    `Idle timeout: ${spec.idleTimeoutSeconds}s`,
    `Age:          ${age(metadata.creationTimestamp, nowMs)}`,
  ];
  if (status.conditions.length > 0) {
    lines.push('Conditions:');
    lines.push(
      renderTable(
        ['  TYPE', 'STATUS', 'REASON', 'MESSAGE'],
        status.conditions.map((c) => [`  ${c.type}`, c.status, c.reason, c.message]),
      ),
    );
  }
  return lines.join('\n');
}
