/** A GitHub-flavoured markdown table; numbers are printed with `digits` decimals. */
export function markdownTable(
  headers: readonly string[],
  rows: readonly (readonly (string | number)[])[],
  digits = 2,
): string {
  const cell = (value: string | number): string =>
    typeof value === 'number' ? (Number.isFinite(value) ? value.toFixed(digits) : '–') : value;
  const lines = [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.map(cell).join(' | ')} |`),
  ];
  return lines.join('\n');
}
