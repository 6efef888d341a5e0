// The same server with StreamRequestHandler: rfile and wfile are file-like
// objects, so readline() replaces raw recv() calls.
import { TCPServer, StreamRequestHandler } from 'socketserver';

class MyTCPHandler extends StreamRequestHandler {
  async handle() {
    // this.rfile is a file-like object created by the handler;
    // we can now use e.g. readline() instead of raw recv() calls
    // (with a limit: without one, a client that never sends '\n' makes
    // the server hold all it sends)
    this.data = (await this.rfile.readline(65536)).toString().trim();
    console.log(`${this.clientAddress[0]} wrote:`);
    console.log(this.data);
    // Likewise, this.wfile is a file-like object used to write back
    // to the client
    await this.wfile.write(this.data.toUpperCase());
  }
}

const HOST = process.env.HOST ?? 'localhost';
const PORT = Number(process.env.PORT ?? 9999);

const server = new TCPServer([HOST, PORT], MyTCPHandler);
process.once('SIGINT', () => server.shutdown());
console.error(`Serving on ${server.serverAddress.join(':')} (Ctrl-C to stop)`);
try {
  await server.serveForever();
} finally {
  await server.serverClose();
}
