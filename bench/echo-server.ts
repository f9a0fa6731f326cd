// Bare baselines for the end-to-end bench, run as child processes:
// `tcp` answers each JSON line with the parsed line echoed back, `http`
// answers each POSTed JSON body with the body echoed back. Prints
// {"port": N} once listening.
import net from 'node:net';
import http from 'node:http';

const kind = process.argv[2];
if (kind === 'http') {
  const srv = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = JSON.stringify({ status: 'OK', echo: text === '' ? null : JSON.parse(text) }); // a GET has no body
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (srv.address() as net.AddressInfo).port })));
} else {
  const srv = net.createServer({ noDelay: true }, (s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('utf8');
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        s.write(JSON.stringify({ status: 'OK', echo: JSON.parse(line) }) + '\n');
      }
    });
    s.on('error', () => {});
  });
  srv.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (srv.address() as net.AddressInfo).port })));
}
