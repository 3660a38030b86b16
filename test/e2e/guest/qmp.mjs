// A QMP client for the end-to-end tests: runs QEMU monitor commands on a guest's socket.
//   node qmp.mjs SOCKET unplug ID            device_del, and waits for QEMU's DEVICE_DELETED event
//   node qmp.mjs SOCKET plug JSON-ARGUMENTS  device_add with these arguments
// Exits 0 when QEMU did it; prints QEMU's error otherwise.
import { connect } from 'node:net';

const [socketPath, verb, argument] = process.argv.slice(2);
if (socketPath === undefined || !['unplug', 'plug'].includes(verb ?? '') || argument === undefined) {
  console.error('usage: qmp.mjs SOCKET unplug ID | plug JSON');
  process.exit(64);
}

const socket = connect(socketPath);
let buffer = '';
const waiting = [];
socket.on('data', (chunk) => {
  buffer += String(chunk);
  let newline;
  while ((newline = buffer.indexOf('\n')) >= 0) {
    const line = buffer.slice(0, newline).trim();
    buffer = buffer.slice(newline + 1);
    if (line === '') continue;
    const message = JSON.parse(line);
    for (const wait of [...waiting]) {
      if (wait.test(message)) {
        waiting.splice(waiting.indexOf(wait), 1);
        wait.resolve(message);
      }
    }
  }
});
socket.on('error', (error) => { console.error(`qmp: ${error.message}`); process.exit(69); });

const next = (test) => new Promise((resolve) => waiting.push({ test, resolve }));
const run = async (execute, args) => {
  const reply = next((message) => 'return' in message || 'error' in message);
  socket.write(`${JSON.stringify(args === undefined ? { execute } : { execute, arguments: args })}\n`);
  const message = await reply;
  if ('error' in message) throw new Error(`${execute}: ${message.error.desc}`);
  return message.return;
};

const timer = setTimeout(() => { console.error('qmp: no answer in 60 s'); process.exit(75); }, 60_000);
try {
  await next((message) => 'QMP' in message);
  await run('qmp_capabilities');
  if (verb === 'unplug') {
    const deleted = next((message) => message.event === 'DEVICE_DELETED' && message.data?.device === argument);
    await run('device_del', { id: argument });
    await deleted;
  } else {
    await run('device_add', JSON.parse(argument));
  }
  clearTimeout(timer);
  socket.end();
} catch (error) {
  console.error(`qmp: ${error.message}`);
  process.exit(1);
}
