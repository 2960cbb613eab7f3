// Byte relay between TCP ports and Unix sockets, run inside a network namespace by
// namespace-relay.ts:
//
//   ip netns exec NS node namespace-relay.cjs '[{"from":{"host":"127.0.0.1","port":8443},"to":{"path":"/tmp/x/https.sock"}}, ...]'
//
// Pathname Unix sockets belong to the file system, not to a network namespace, so they connect a
// server in the test process (host namespace) with clients inside the namespace and vice versa,
// without giving the namespace any interface but `lo`. Prints "relay ready" once every listener
// is bound; exits on SIGTERM or when a listener cannot be bound.
'use strict';
const fs = require('node:fs');
const net = require('node:net');

/** Accepts on `from`, and pipes each connection to a new connection to `to`. Returns the server. */
function relay(from, to, onListening) {
  if (from.path) fs.rmSync(from.path, { force: true });
  const server = net.createServer((inbound) => {
    const outbound = net.connect(to);
    const closeBoth = () => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.pipe(outbound);
    outbound.pipe(inbound);
    inbound.on('error', closeBoth).on('close', closeBoth);
    outbound.on('error', closeBoth).on('close', closeBoth);
  });
  server.listen(from, onListening);
  return server;
}

module.exports = { relay };

if (require.main === module) {
  const forwards = JSON.parse(process.argv[2] || '[]');
  let waiting = forwards.length;
  for (const { from, to } of forwards) {
    relay(from, to, () => {
      waiting -= 1;
      if (waiting === 0) process.stdout.write('relay ready\n');
    }).on('error', (error) => {
      process.stderr.write(`relay ${JSON.stringify(from)} -> ${JSON.stringify(to)}: ${error.message}\n`);
      process.exit(1);
    });
  }
  if (waiting === 0) process.stdout.write('relay ready\n');
  process.on('SIGTERM', () => process.exit(0));
}
