// Writes kvc's manual pages and shell completions from the built program (lib/, so run it after
// `npm run build`), the same definitions `kvc --help` prints:
//   <out>/man/man8/kvc.8, <out>/man/man5/kvc.conf.5, <out>/man/man5/kvc-devices.5,
//   <out>/completion/kvc.bash (bash), <out>/completion/_kvc (zsh)
// Usage: node scripts/gen-docs.mjs [out]   (default dist; `make build` runs it)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandModel } from './docs/model.mjs';
import { confPage, devicesPage, kvcPage } from './docs/man-pages.mjs';
import { bashCompletion, zshCompletion } from './docs/completion.mjs';

const out = process.argv[2] ?? 'dist';
const model = commandModel();
const files = {
  'man/man8/kvc.8': kvcPage(model),
  'man/man5/kvc.conf.5': confPage(model),
  'man/man5/kvc-devices.5': devicesPage(model),
  'completion/kvc.bash': bashCompletion(model),
  'completion/_kvc': zshCompletion(model),
};
for (const [name, text] of Object.entries(files)) {
  mkdirSync(join(out, name, '..'), { recursive: true });
  writeFileSync(join(out, name), text);
}
