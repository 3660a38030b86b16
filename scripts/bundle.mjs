// Bundles the compiled CLI (lib/) and its dependencies into one file, dist/kvc.mjs, which `make
// install` ships beside a pinned Node binary: hosts need no Node and no node_modules.
import { build } from 'esbuild';

await build({
  entryPoints: ['lib/cli/main.js'],
  outfile: 'dist/kvc.mjs',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  // Whitespace and syntax minified (the idle service keeps the source in its heap: 1.2 MB less
  // resident, docs/benchmarks.md); names kept so --verbose stack traces stay readable.
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  legalComments: 'linked',
  // Bundled CommonJS dependencies (winston, ini, dbus-next) call require(); give them one.
  banner: { js: "import { createRequire as __kvcCreateRequire } from 'node:module'; const require = __kvcCreateRequire(import.meta.url);" },
  // dbus-next loads usocket only for abstract-namespace sockets and x11 only for session buses
  // found through X11: the system bus needs neither.
  external: ['usocket', 'x11'],
  // Test-only switches (KVC_TEST_INSECURE_FILES) are compiled out of what `make install` ships.
  define: { __KVC_TEST_HOOKS__: 'false' },
  logLevel: 'warning',
});
