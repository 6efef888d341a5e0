// The client side:  node examples/udp-client.mjs hello world with UDP
import dgram from 'node:dgram';

const HOST = process.env.HOST ?? 'localhost';
const PORT = Number(process.env.PORT ?? 9999);
const data = process.argv.slice(2).join(' ');

// As you can see, there is no connect() call; UDP has no connections.
// Instead, data is directly sent to the recipient via send().
const sock = dgram.createSocket('udp4');
// UDP may lose a datagram: give up after 5 seconds rather than wait forever.
const timer = setTimeout(() => {
  console.error('udp-client: no reply within 5 s');
  process.exitCode = 1;
  sock.close();
}, 5000);
sock.on('message', (received) => {
  clearTimeout(timer);
  console.log(`Sent:     ${data}`);
  console.log(`Received: ${received.toString('utf8')}`);
  sock.close();
});
sock.send(`${data}\n`, PORT, HOST);
