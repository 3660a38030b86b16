// Network namespaces for the USB/IP access tests: a "server" namespace linked by its own veth
// pair to each of the named client namespaces (10.231.N.1 ↔ 10.231.N.2, fd77:N::1 ↔ fd77:N::2).
// Root only; each run's names carry its PID, so runs of other helpers do not meet.
import { execFileSync, spawn, spawnSync } from 'node:child_process';

const run = (args) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

// Whether this machine can run them: root, ip netns, nft.
export function netnsUsable() {
  if (process.getuid?.() !== 0) return false;
  return spawnSync('ip', ['netns', 'list']).status === 0 && spawnSync('nft', ['--version']).status === 0;
}

// Makes the namespaces; returns { server, clients: { name: { ns, v4, v6, serverV4, serverV6 } }, exec(ns, args), close() }.
export function makeNetns(clientNames) {
  const prefix = `kvcacc${process.pid}`;
  const server = `${prefix}-srv`;
  const made = [server];
  run(['ip', 'netns', 'add', server]);
  run(['ip', '-n', server, 'link', 'set', 'lo', 'up']);
  const clients = {};
  clientNames.forEach((name, index) => {
    const n = index + 1;
    const ns = `${prefix}-${name}`;
    run(['ip', 'netns', 'add', ns]);
    made.push(ns);
    run(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    run(['ip', '-n', server, 'link', 'add', `s${n}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    run(['ip', '-n', server, 'addr', 'add', `10.231.${n}.1/24`, 'dev', `s${n}`]);
    run(['ip', '-n', server, 'addr', 'add', `fd77:${n}::1/64`, 'dev', `s${n}`, 'nodad']);
    run(['ip', '-n', server, 'link', 'set', `s${n}`, 'up']);
    run(['ip', '-n', ns, 'addr', 'add', `10.231.${n}.2/24`, 'dev', 'eth0']);
    run(['ip', '-n', ns, 'addr', 'add', `fd77:${n}::2/64`, 'dev', 'eth0', 'nodad']);
    run(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
    clients[name] = { ns, v4: `10.231.${n}.2`, v6: `fd77:${n}::2`, serverV4: `10.231.${n}.1`, serverV6: `fd77:${n}::1` };
  });
  return {
    server,
    clients,
    exec: (ns, args, input) => execFileSync('ip', ['netns', 'exec', ns, ...args], { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString(),
    // A process in a namespace, killed by close().
    spawnIn: (ns, args) => spawn('ip', ['netns', 'exec', ns, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }),
    close: () => {
      for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
    },
  };
}

// Whether a TCP connection from namespace `ns` to host:port is accepted within ms ('connected',
// 'refused', 'timeout').
export function tryConnect(ns, host, port, ms = 800) {
  const script = `const s=require('net').connect({host:process.argv[1],port:+process.argv[2]});const t=setTimeout(()=>{console.log('timeout');process.exit(0)},+process.argv[3]);s.on('connect',()=>{console.log('connected');process.exit(0)});s.on('error',(e)=>{console.log(e.code==='ECONNREFUSED'?'refused':e.code);process.exit(0)});`;
  return execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script, host, String(port), String(ms)]).toString().trim();
}
