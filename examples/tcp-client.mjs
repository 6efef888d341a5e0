// The client side:  node examples/tcp-client.mjs hello world with TCP
import net from 'node:net';

const HOST = process.env.HOST ?? 'localhost';
const PORT = Number(process.env.PORT ?? 9999);
const data = process.argv.slice(2).join(' ');

// Connect to server and send data
const sock = net.connect({ host: HOST, port: PORT });
sock.on('error', (err) => {
  console.error(`tcp-client: ${err.message}`);
  process.exitCode = 1;
});
sock.on('connect', () => sock.write(`${data}\n`));

// Receive data from the server and shut down
const chunks = [];
sock.on('data', (chunk) => chunks.push(chunk));
sock.on('close', (hadError) => {
  if (hadError) return;
  console.log(`Sent:     ${data}`);
  console.log(`Received: ${Buffer.concat(chunks).toString('utf8')}`);
});
