// Asks a Kafka broker whether it serves clients: sends one Metadata request (v1) over plain TCP
// and checks that the answer lists at least one live broker and a controller. No dependencies,
// so scripts/kafka.sh can use it before `npm install`.
//
//   node scripts/kafka-ready.mjs 127.0.0.1:19092   # exit 0: ready; exit 1: not (yet), reason on stderr
import { connect } from 'node:net';

const [host, portText] = (process.argv[2] ?? '127.0.0.1:19092').split(':');
const port = Number(portText);
const timeoutMs = Number(process.argv[3] ?? 3000);

function metadataRequest(correlationId) {
  const clientId = Buffer.from('tributary-ready');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4);
  let o = 0;
  o = body.writeInt16BE(3, o); // api key: Metadata
  o = body.writeInt16BE(1, o); // version 1: topics = null means "no topics", brokers and controller only
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  body.writeInt32BE(0, o); // an empty topic array: metadata of no topic, never auto-creates
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

/** Parses a Metadata v1 response far enough to read brokers and the controller id. */
function parse(buf) {
  let o = 4; // correlation id
  const brokers = buf.readInt32BE(o);
  o += 4;
  for (let i = 0; i < brokers; i++) {
    o += 4; // node id
    const hostLen = buf.readInt16BE(o);
    o += 2 + hostLen + 4; // host, port
    const rackLen = buf.readInt16BE(o);
    o += 2 + Math.max(0, rackLen);
  }
  const controllerId = buf.readInt32BE(o);
  return { brokers, controllerId };
}

const socket = connect({ host, port });
const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
let received = Buffer.alloc(0);

function fail(reason) {
  clearTimeout(timer);
  socket.destroy();
  console.error(`kafka-ready: ${host}:${port}: ${reason}`);
  process.exit(1);
}

socket.on('connect', () => socket.write(metadataRequest(1)));
socket.on('error', (e) => fail(e.code ?? e.message));
socket.on('data', (chunk) => {
  received = Buffer.concat([received, chunk]);
  if (received.length < 4) return;
  const size = received.readInt32BE(0);
  if (received.length < 4 + size) return;
  const { brokers, controllerId } = parse(received.subarray(4, 4 + size));
  clearTimeout(timer);
  socket.destroy();
  if (brokers < 1 || controllerId < 0) fail(`not ready yet (brokers ${brokers}, controller ${controllerId})`);
  process.exit(0);
});
