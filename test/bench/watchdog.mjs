// Watchdog for the bench's child process groups. The bench writes `add PGID` / `del PGID` lines
// to our stdin; when stdin closes without a `quit` line (the bench died, even by SIGKILL), every
// group still listed gets SIGKILL. Lives at most MAX_LIFETIME_MS in any case.
const MAX_LIFETIME_MS = 30 * 60 * 1000;
const groups = new Set();
let quit = false;
let buffered = '';

function killAll() {
  for (const pgid of groups) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  groups.clear();
}

process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  for (const line of lines) {
    const [cmd, arg] = line.trim().split(/\s+/);
    const pgid = Number(arg);
    if (cmd === 'add' && pgid > 1) groups.add(pgid);
    else if (cmd === 'del') groups.delete(pgid);
    else if (cmd === 'quit') quit = true;
  }
});
process.stdin.on('end', () => {
  if (!quit) killAll();
  process.exit(0);
});
process.stdin.on('error', () => {
  killAll();
  process.exit(0);
});
setTimeout(() => {
  killAll();
  process.exit(0);
}, MAX_LIFETIME_MS).unref();
process.title = 'bench-watchdog';
