// A handler module for the socketserver command:
//   npx socketserver --tcp 127.0.0.1:9999 ./examples/handler.mjs
// It echoes each line upper-cased until the client closes.
import { StreamRequestHandler } from 'socketserver';

// A line is held whole in memory until its '\n' arrives: the limit bounds
// what one client can make the server hold (a longer line comes in parts).
const MAX_LINE = 64 * 1024;

export default class UppercaseLines extends StreamRequestHandler {
  async handle() {
    for (;;) {
      const line = await this.rfile.readline(MAX_LINE);
      if (line.length === 0) return; // the client closed
      await this.wfile.write(line.toString().toUpperCase());
    }
  }
}
