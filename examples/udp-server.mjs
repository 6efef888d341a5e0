// The UDP server of Python's socketserver documentation:
//   node examples/udp-server.mjs
// then:  node examples/udp-client.mjs hello world with UDP
import { UDPServer, BaseRequestHandler } from 'socketserver';

/**
 * This class works similar to the TCP handler class, except that
 * this.request consists of a pair of data and client socket, and since
 * there is no connection the client address must be given explicitly
 * when sending data back via sendTo().
 */
class MyUDPHandler extends BaseRequestHandler {
  async handle() {
    const data = this.request[0].toString().trim();
    const socket = this.request[1];
    console.log(`${this.clientAddress[0]} wrote:`);
    console.log(data);
    await socket.sendTo(data.toUpperCase(), this.clientAddress);
  }
}

const HOST = process.env.HOST ?? 'localhost';
const PORT = Number(process.env.PORT ?? 9999);

const server = new UDPServer([HOST, PORT], MyUDPHandler);
process.once('SIGINT', () => server.shutdown());
console.error(`Serving on ${server.serverAddress.join(':')} (Ctrl-C to stop)`);
try {
  await server.serveForever();
} finally {
  await server.serverClose();
}
