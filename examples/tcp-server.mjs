// The uppercase TCP server of Python's socketserver documentation, with
// BaseRequestHandler:  npm start  (or  node examples/tcp-server.mjs)
// Then, in another terminal:  node examples/tcp-client.mjs hello world with TCP
import { TCPServer, BaseRequestHandler } from 'socketserver';

/**
 * The request handler class for our server.
 *
 * It is instantiated once per connection to the server, and must
 * override the handle() method to implement communication to the
 * client.
 */
class MyTCPHandler extends BaseRequestHandler {
  async handle() {
    // this.request is the TCP socket connected to the client
    this.data = (await this.request.recv(1024)).toString().trim();
    console.log(`${this.clientAddress[0]} wrote:`);
    console.log(this.data);
    // just send back the same data, but upper-cased
    await this.request.sendAll(this.data.toUpperCase());
  }
}

const HOST = process.env.HOST ?? 'localhost';
const PORT = Number(process.env.PORT ?? 9999);

// Create the server, binding to localhost on port 9999
const server = new TCPServer([HOST, PORT], MyTCPHandler);
// Activate the server; this will keep running until you
// interrupt the program with Ctrl-C
process.once('SIGINT', () => server.shutdown());
console.error(`Serving on ${server.serverAddress.join(':')} (Ctrl-C to stop)`);
try {
  await server.serveForever();
} finally {
  await server.serverClose();
}
