// A handler module for the socketserver command:
//   npx socketserver --tcp 127.0.0.1:9999 ./examples/handler.mjs
// It echoes each line upper-cased until the client closes.
import { StreamRequestHandler } from 'socketserver';

export default class UppercaseLines extends StreamRequestHandler {
  async handle() {
    for await (const line of this.rfile) {
      await this.wfile.write(line.toString().toUpperCase());
    }
  }
}
