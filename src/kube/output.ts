// Manifests as text: YAML documents (the default) or JSON, as kubectl reads them. Pure.
import { stringify } from 'yaml';

// The output formats `kvc kube` prints.
export type ManifestFormat = 'yaml' | 'json';

// One or more objects as YAML documents separated by "---", or as JSON: one object as itself,
// several as a v1 List (kubectl apply -f takes both).
export function formatManifests(objects: readonly Record<string, unknown>[], format: ManifestFormat, options: { list?: boolean } = {}): string {
  if (format === 'json') {
    const value = objects.length === 1 && options.list !== true ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects };
    return `${JSON.stringify(value, null, 2)}\n`;
  }
  // Strings that YAML would read as something else (numbers, booleans, "6.1") stay quoted; an object
  // used twice is written twice, not as an anchor and alias.
  return objects.map((object) => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
}
