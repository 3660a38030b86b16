// Drives shim's MokManager over the guest's serial console, as a person at the blue screen would,
// to enrol the key `kvc key enroll` queued: "Press any key", "Enroll MOK", "Continue", "Yes", the
// one-time password, "Reboot". MokManager's text UI is drawn on the serial line (VT100 escapes);
// each screen is recognised by its words once they have been drawn, then answered with keys.
//   node mokmanager.mjs SOCKET LOG PASSWORD
// Connects to QEMU's serial (a unix socket QEMU listens on, waiting for us), appends everything to
// LOG, and exits 0 once the key was enrolled and MokManager asked to reboot (QEMU then exits, as
// it runs with -no-reboot), 1 when a screen did not come within its time.
import { appendFileSync } from 'node:fs';
import { connect } from 'node:net';

const [socketPath, logPath, password] = process.argv.slice(2);
if (!socketPath || !logPath || !password) {
  process.stderr.write('usage: mokmanager.mjs SOCKET LOG PASSWORD\n');
  process.exit(64);
}
const DOWN = '\x1b[B';
const ENTER = '\r';
// Each screen: the words that show it is drawn, the keys that answer it, how long it may take.
const STEPS = [
  { name: 'the MokManager prompt', shows: /Press any key to perform MOK management/, keys: [ENTER], ms: 600_000 },
  { name: 'the main menu', shows: /Perform MOK management[\s\S]*Enroll MOK/, keys: [DOWN, ENTER], ms: 60_000 },
  { name: 'the key to enrol', shows: /View key 0[\s\S]*Continue/, keys: [DOWN, ENTER], ms: 60_000 },
  { name: 'the question', shows: /Enroll the key\(s\)\?[\s\S]*Yes/, keys: [DOWN, ENTER], ms: 60_000 },
  { name: 'the password prompt', shows: /Password:/, keys: [...password, ENTER], ms: 60_000 },
  { name: 'the reboot menu', shows: /Perform MOK management[\s\S]*Reboot/, keys: [ENTER], ms: 60_000 },
];

// The screen's words: escape sequences and box drawing dropped.
const words = (text) => text.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, ' ').replace(/[^\x20-\x7e\n]/g, ' ');
const say = (line) => process.stderr.write(`mokmanager: ${line}\n`);

const socket = await new Promise((resolve, reject) => {
  const deadline = Date.now() + 30_000;
  const attempt = () => {
    const s = connect(socketPath);
    s.once('connect', () => resolve(s));
    s.once('error', (error) => (Date.now() > deadline ? reject(error) : setTimeout(attempt, 200)));
  };
  attempt();
});

let seen = '';
let step = 0;
let timer;
const arm = () => {
  clearTimeout(timer);
  if (step >= STEPS.length) return;
  timer = setTimeout(() => {
    say(`${STEPS[step].name} did not come within ${STEPS[step].ms / 1000} s`);
    process.exit(1);
  }, STEPS[step].ms);
};
const typeKeys = async (keys) => {
  for (const key of keys) {
    socket.write(key);
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
};
let busy = false;
arm();
// Answers the current screen once its words have been drawn; looked at on every chunk and again
// after typing (a screen drawn while keys were being typed is already complete by then).
async function check() {
  if (busy || step >= STEPS.length) return;
  const current = STEPS[step];
  if (!current.shows.test(seen)) return;
  busy = true;
  // Let the screen finish drawing before answering it.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  say(`${current.name}: answering`);
  seen = '';
  step += 1;
  arm();
  await typeKeys(current.keys);
  busy = false;
  await check();
}
socket.on('data', (chunk) => {
  appendFileSync(logPath, chunk);
  seen += words(String(chunk));
  void check();
});
socket.on('close', () => {
  clearTimeout(timer);
  if (step >= STEPS.length) {
    say('the key was enrolled; MokManager rebooted');
    process.exit(0);
  }
  say(`the console closed at ${STEPS[step]?.name ?? 'the end'}`);
  process.exit(1);
});
