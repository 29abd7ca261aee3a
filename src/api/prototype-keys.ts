/**
 * Whether JSON `text` may hold a `__proto__` or `constructor` key — the keys by which parsed
 * JSON poisons prototypes once code copies or merges it — so that it needs the careful parse
 * (secure-json-parse, which refuses them). A key is spelled either literally or with `\u`
 * escapes (JSON's other escapes decode to no letter or underscore), so text with no `\u` and
 * neither word in it holds neither key, and plain `JSON.parse` is safe for it. Three substring
 * searches instead of secure-json-parse's two regular-expression scans per body: a heartbeat is
 * ~6 KB and arrives thousands of times a second. A false positive costs only the careful parse.
 */
export function mayHoldPrototypeKeys(text: string): boolean {
  return text.includes('\\u') || text.includes('__proto__') || text.includes('constructor');
}
