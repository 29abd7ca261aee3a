/** Every key of the selector must be present with exactly that value (`app=web,team=core`). */
export function matchesLabels(
  labels: Readonly<Record<string, string>>,
  selector: Readonly<Record<string, string>> | undefined,
): boolean {
  if (selector === undefined) {
    return true;
  }
  for (const [key, value] of Object.entries(selector)) {
    if (labels[key] !== value) {
      return false;
    }
  }
  return true;
}
