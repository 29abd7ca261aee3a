// The test workspace: a stand-in for code-server that starts in milliseconds, so integration tests
// exercise the node agent and proxy against a real container without waiting for VS Code.
// Dependency-free on purpose (the image holds only Node): HTTP plus a minimal RFC 6455 WebSocket.
//
//   GET  /              200, an HTML page naming the codespace (env CODEYARD_CODESPACE_NAME)
//   GET  /healthz       200 "ok"
//   GET  /headers       200, the request headers as JSON (what the proxy forwarded)
//   GET  /files/<name>  the file /home/coder/workspace/<name> (404 when absent)
//   PUT  /files/<name>  writes it (204), to test that the named volume keeps files
//   GET  /echo          WebSocket: every text or binary message is sent back unchanged

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

const listenPort = Number(process.env.PORT || 8080);
const workspaceDir = process.env.CODEYARD_WORKSPACE_DIR || path.join(os.homedir(), 'workspace');
const codespaceName = process.env.CODEYARD_CODESPACE_NAME || os.hostname();
const fileBodyMaxBytes = 1024 * 1024;
const webSocketMessageMaxBytes = 1024 * 1024;
const fileNamePattern = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const webSocketGuid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const opcode = { continuation: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa };

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function send(res, status, body, contentType = 'text/plain; charset=utf-8') {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

function homePage() {
  const name = escapeHtml(codespaceName);
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${name} · codeyard test workspace</title></head>
<body><h1 id="codespace">${name}</h1><p>codeyard test workspace</p></body></html>
`;
}

function handleFile(req, res, name) {
  if (!fileNamePattern.test(name)) return send(res, 400, 'invalid file name\n');
  const filePath = path.join(workspaceDir, name);
  if (req.method === 'GET') {
    fs.readFile(filePath, (err, data) => {
      if (err) return send(res, err.code === 'ENOENT' ? 404 : 500, `${err.code}\n`);
      send(res, 200, data, 'application/octet-stream');
    });
    return;
  }
  if (req.method === 'PUT') {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > fileBodyMaxBytes) {
        send(res, 413, 'body too large\n');
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (res.headersSent) return;
      fs.mkdir(workspaceDir, { recursive: true }, (mkdirErr) => {
        if (mkdirErr) return send(res, 500, `${mkdirErr.code}\n`);
        fs.writeFile(filePath, Buffer.concat(chunks), (err) => {
          if (err) return send(res, 500, `${err.code}\n`);
          res.writeHead(204).end();
        });
      });
    });
    return;
  }
  send(res, 405, 'method not allowed\n');
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://workspace');
  if (url.pathname === '/healthz') return send(res, 200, 'ok\n');
  if (url.pathname === '/') return send(res, 200, homePage(), 'text/html; charset=utf-8');
  if (url.pathname === '/headers') return send(res, 200, JSON.stringify(req.headers), 'application/json');
  if (url.pathname.startsWith('/files/')) return handleFile(req, res, url.pathname.slice('/files/'.length));
  send(res, 404, 'not found\n');
});

// --- WebSocket (RFC 6455), server side only: enough for an echo endpoint. ---

function encodeFrame(frameOpcode, payload) {
  const length = payload.length;
  let header;
  if (length < 126) {
    header = Buffer.from([0x80 | frameOpcode, length]);
  } else if (length < 0x10000) {
    header = Buffer.alloc(4);
    header[0] = 0x80 | frameOpcode;
    header[1] = 126;
    header.writeUInt16BE(length, 2);
  } else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | frameOpcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}

/** Parses one frame from the front of `buffer`; null when it is not complete yet. */
function decodeFrame(buffer) {
  if (buffer.length < 2) return null;
  const fin = (buffer[0] & 0x80) !== 0;
  const frameOpcode = buffer[0] & 0x0f;
  const masked = (buffer[1] & 0x80) !== 0;
  let length = buffer[1] & 0x7f;
  let offset = 2;
  if (length === 126) {
    if (buffer.length < 4) return null;
    length = buffer.readUInt16BE(2);
    offset = 4;
  } else if (length === 127) {
    if (buffer.length < 10) return null;
    const longLength = buffer.readBigUInt64BE(2);
    if (longLength > BigInt(webSocketMessageMaxBytes)) return { error: 1009 };
    length = Number(longLength);
    offset = 10;
  }
  if (length > webSocketMessageMaxBytes) return { error: 1009 };
  const maskLength = masked ? 4 : 0;
  if (buffer.length < offset + maskLength + length) return null;
  const payload = Buffer.from(buffer.subarray(offset + maskLength, offset + maskLength + length));
  if (masked) {
    const mask = buffer.subarray(offset, offset + 4);
    for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
  }
  return { fin, opcode: frameOpcode, masked, payload, size: offset + maskLength + length };
}

function closeWith(socket, code) {
  const payload = Buffer.alloc(2);
  payload.writeUInt16BE(code, 0);
  socket.end(encodeFrame(opcode.close, payload));
}

function serveEcho(socket) {
  let pending = Buffer.alloc(0);
  let message = null; // { opcode, parts, size } while a fragmented message is arriving
  socket.on('data', (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    for (;;) {
      const frame = decodeFrame(pending);
      if (frame === null) return;
      if (frame.error) return closeWith(socket, frame.error);
      pending = pending.subarray(frame.size);
      // Clients must mask every frame (RFC 6455 §5.1): anything else is a protocol error.
      if (!frame.masked) return closeWith(socket, 1002);
      if (frame.opcode === opcode.close) return socket.end(encodeFrame(opcode.close, frame.payload));
      if (frame.opcode === opcode.ping) {
        socket.write(encodeFrame(opcode.pong, frame.payload));
        continue;
      }
      if (frame.opcode === opcode.pong) continue;
      if (frame.opcode === opcode.text || frame.opcode === opcode.binary) {
        if (message !== null) return closeWith(socket, 1002);
        message = { opcode: frame.opcode, parts: [], size: 0 };
      } else if (frame.opcode !== opcode.continuation || message === null) {
        return closeWith(socket, 1002);
      }
      message.parts.push(frame.payload);
      message.size += frame.payload.length;
      if (message.size > webSocketMessageMaxBytes) return closeWith(socket, 1009);
      if (frame.fin) {
        socket.write(encodeFrame(message.opcode, Buffer.concat(message.parts)));
        message = null;
      }
    }
  });
  socket.on('error', () => socket.destroy());
}

server.on('upgrade', (req, socket) => {
  const url = new URL(req.url, 'http://workspace');
  const key = req.headers['sec-websocket-key'];
  const isWebSocket = String(req.headers.upgrade || '').toLowerCase() === 'websocket';
  if (url.pathname !== '/echo' || !isWebSocket || typeof key !== 'string') {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const accept = crypto
    .createHash('sha1')
    .update(key + webSocketGuid)
    .digest('base64');
  socket.setNoDelay(true);
  socket.write(
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
  );
  serveEcho(socket);
});

// PID 1 in a container gets no default signal handling: exit promptly so `docker stop` is fast.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}

server.listen(listenPort, '0.0.0.0', () => {
  console.log(`codeyard test workspace "${codespaceName}" listening on :${listenPort}`);
});
