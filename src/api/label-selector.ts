import { CodeyardError } from '../model/errors.js';
import { labelKeyPattern, labelValuePattern } from '../model/names.js';

const labelKey = new RegExp(labelKeyPattern);
const labelValue = new RegExp(labelValuePattern);
/** More terms than a codespace can have labels would never match anything. */
const selectorTermsMax = 32;

/** Parses `a=b,c=d` (equality only) into a map; anything else is INVALID_PARAMETER naming `labelSelector`. */
export function parseLabelSelector(selector: string): Record<string, string> {
  const terms = selector.split(',').filter((term) => term !== '');
  if (terms.length > selectorTermsMax) {
    throw invalid(`at most ${selectorTermsMax} terms are allowed`);
  }
  const result: Record<string, string> = {};
  for (const term of terms) {
    const match = /^([^=!]+)==?([^=]*)$/.exec(term.trim());
    if (!match) throw invalid(`term "${term}" is not key=value`);
    const [, key, value] = match as unknown as [string, string, string];
    if (!labelKey.test(key) || !labelValue.test(value) || value.length > 63) {
      throw invalid(`term "${term}" has an invalid key or value`);
    }
    result[key] = value;
  }
  return result;
}

export function matchesLabels(
  labels: Readonly<Record<string, string>>,
  selector: Readonly<Record<string, string>>,
): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

function invalid(reason: string): CodeyardError {
  return new CodeyardError('INVALID_PARAMETER', `labelSelector: ${reason}`, { field: 'labelSelector' });
}
