// The one place kvc reads its process's environment and command line. The program's edge
// (src/cli/main.ts, the session) reads them here and passes them on; a module that needs a
// default (a PATH to search, a test hook) asks here rather than reading process.env itself.

// The process's environment variables.
export function environment(): NodeJS.ProcessEnv {
  return process.env;
}

// The process's command line, as Node gives it (node, the script, then the arguments).
export function commandLine(): readonly string[] {
  return process.argv;
}
