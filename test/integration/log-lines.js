// Collects a child process's log lines with the time each arrived, and waits for one.
export function collectLines(stream) {
  const lines = [];
  let buffer = '';
  stream.on('data', (chunk) => {
    buffer += chunk;
    const parts = buffer.split('\n');
    buffer = parts.pop();
    for (const text of parts) lines.push({ text, at: Date.now() });
  });
  // Resolves with the first line from index `from` matching `pattern`; rejects after timeoutMs with the log.
  const waitFor = async (pattern, timeoutMs = 60000, from = 0) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = lines.findIndex((line, i) => i >= from && pattern.test(line.text));
      if (index >= 0) return lines[index];
      if (Date.now() > deadline) throw new Error(`no log line matching ${pattern} in ${timeoutMs} ms; log:\n${lines.map((l) => l.text).join('\n')}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const count = (pattern) => lines.filter((line) => pattern.test(line.text)).length;
  return { lines, waitFor, count };
}
