// A stand-in workspace for the process runtime (and for node-agent tests): plain Node, no
// dependencies, so the same file runs on the host or inside a minimal image.
//   GET /            200 text          GET /healthz    200 "ok"
//   PUT /files/<n>   write under CODEYARD_WORKSPACE_DIR         GET /files/<n>  read it back
//   GET /echo        WebSocket that echoes text frames
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { join } from 'node:path';

const port = Number(process.env.PORT ?? 8080);
const host = process.env.HOST ?? '0.0.0.0';
const workspaceDir = process.env.CODEYARD_WORKSPACE_DIR ?? '/home/coder/workspace';
const fileBodyMaxBytes = 1024 * 1024;
const wsFrameMaxBytes = 65_535;
mkdirSync(workspaceDir, { recursive: true });

function fileNameOf(url) {
  const name = decodeURIComponent(url.slice('/files/'.length));
  return /^[A-Za-z0-9._-]{1,128}$/.test(name) && !name.startsWith('.') ? name : undefined;
}

const server = createServer(async (req, res) => {
  const url = (req.url ?? '/').split('?')[0];
  if (url === '/healthz') return res.end('ok');
  if (url.startsWith('/files/')) {
    const name = fileNameOf(url);
    if (!name) return res.writeHead(400).end('bad file name');
    const path = join(workspaceDir, name);
    if (req.method === 'PUT') {
      const chunks = [];
      let size = 0;
      for await (const chunk of req) {
        size += chunk.length;
        if (size > fileBodyMaxBytes) return res.writeHead(413).end('too large');
        chunks.push(chunk);
      }
      await writeFile(path, Buffer.concat(chunks));
      return res.writeHead(204).end();
    }
    try {
      return res.end(await readFile(path));
    } catch {
      return res.writeHead(404).end('not found');
    }
  }
  res.setHeader('content-type', 'text/plain');
  res.end(`codeyard workspace ${process.env.CODEYARD_CODESPACE_NAME ?? ''}\n`);
});

// Minimal RFC 6455 echo: unfragmented text frames up to 64 KiB, enough for routing tests.
server.on('upgrade', (req, socket) => {
  const key = req.headers['sec-websocket-key'];
  if (req.url !== '/echo' || typeof key !== 'string') return socket.destroy();
  const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  let buffer = Buffer.alloc(0);
  socket.on('data', (data) => {
    buffer = Buffer.concat([buffer, data]);
    while (buffer.length >= 2) {
      const opcode = buffer[0] & 0x0f;
      let length = buffer[1] & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (buffer.length < 4) return;
        length = buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127 || length > wsFrameMaxBytes) return socket.destroy();
      const masked = (buffer[1] & 0x80) !== 0;
      const total = offset + (masked ? 4 : 0) + length;
      if (buffer.length < total) return;
      const mask = masked ? buffer.subarray(offset, offset + 4) : undefined;
      const payload = Buffer.from(buffer.subarray(total - length, total));
      if (mask) for (let i = 0; i < payload.length; i += 1) payload[i] ^= mask[i % 4];
      buffer = buffer.subarray(total);
      if (opcode === 0x8) return socket.end(Buffer.from([0x88, 0x00]));
      if (opcode === 0x9) {
        socket.write(Buffer.concat([Buffer.from([0x8a, payload.length]), payload]));
        continue;
      }
      const header =
        payload.length < 126
          ? Buffer.from([0x81, payload.length])
          : Buffer.from([0x81, 126, payload.length >> 8, payload.length & 0xff]);
      socket.write(Buffer.concat([header, payload]));
    }
  });
  socket.on('error', () => socket.destroy());
});

server.listen(port, host);
// Nothing is buffered (files are written per request), so a stop may exit at once.
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));
