// The ThreadingMixIn example of Python's socketserver documentation:
//   node examples/threaded-tcp-server.mjs
// Each request runs as a task of its own, concurrently with the serve loop
// and the other requests (JavaScript has no threads to name: tasks are
// numbered as they start).
import net from 'node:net';
import { BaseRequestHandler, TCPServer, ThreadingMixIn } from 'socketserver';

let tasks = 0;

class ThreadedTCPRequestHandler extends BaseRequestHandler {
  async handle() {
    const data = (await this.request.recv(1024)).toString('ascii');
    const curTask = `Task-${++tasks}`;
    const response = Buffer.from(`${curTask}: ${data}`, 'ascii');
    await this.request.sendAll(response);
  }
}

class ThreadedTCPServer extends ThreadingMixIn(TCPServer) {}

function client(ip, port, message) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: ip, port }, () => sock.write(message));
    const chunks = [];
    sock.on('data', (chunk) => chunks.push(chunk));
    sock.on('error', reject);
    sock.on('close', () => {
      console.log(`Received: ${Buffer.concat(chunks).toString('ascii')}`);
      resolve();
    });
  });
}

// Port 0 means to select an arbitrary unused port
const HOST = 'localhost';
const PORT = 0;

const server = new ThreadedTCPServer([HOST, PORT], ThreadedTCPRequestHandler);
const [ip, port] = server.serverAddress;

// Start the serve loop as a task; it starts one more task for each request
const loop = server.serveForever();
console.log('Server loop running in task: serveForever');

await client(ip, port, 'Hello World 1');
await client(ip, port, 'Hello World 2');
await client(ip, port, 'Hello World 3');

await server.shutdown();
await loop;
await server.serverClose();
