// MQTT.js scenarios over ws://…/mqtt for tests/Cicada.Http.Tests. Usage:
//   node scenario.mjs <ws-url> <scenario> <prefix>
// Prints one JSON line with what the clients saw; the C# tests make the assertions.
import mqtt from 'mqtt';

const [url, scenario, prefix] = process.argv.slice(2);
const timeout = setTimeout(() => { console.log(JSON.stringify({ error: 'timeout' })); process.exit(3); }, 20000);

function connect(clientId, extra = {}) {
  return mqtt.connectAsync(url, { protocolVersion: 4, clientId, clean: true, reconnectPeriod: 0, connectTimeout: 5000, ...extra });
}

function collect(client, count) {
  const received = [];
  return new Promise(resolve => {
    client.on('message', (topic, payload, packet) => {
      received.push({ topic, payload: payload.toString('utf8'), size: payload.length, qos: packet.qos, retain: packet.retain });
      if (received.length >= count) resolve(received);
    });
  });
}

async function qos() {
  const sub = await connect(`${prefix}-sub`);
  const granted = await sub.subscribeAsync(`${prefix}/qos/#`, { qos: 2 });
  const pub = await connect(`${prefix}-pub`);
  const got = collect(sub, 3);
  for (const q of [0, 1, 2]) {
    // publishAsync resolves after PUBACK (QoS 1) / PUBCOMP (QoS 2).
    await pub.publishAsync(`${prefix}/qos/${q}`, `m${q}`, { qos: q });
  }
  const received = await got;
  await pub.endAsync(); await sub.endAsync();
  return { granted: granted.map(g => g.qos), received };
}

async function retained() {
  const pub = await connect(`${prefix}-pub`);
  await pub.publishAsync(`${prefix}/state`, 'on', { qos: 1, retain: true });
  await pub.endAsync();
  const sub = await connect(`${prefix}-sub`);
  const got = collect(sub, 1);
  await sub.subscribeAsync(`${prefix}/+`, { qos: 1 });
  const received = await got;
  await sub.endAsync();
  return { received };
}

async function will() {
  const sub = await connect(`${prefix}-sub`);
  await sub.subscribeAsync(`${prefix}/will`, { qos: 1 });
  const got = collect(sub, 1);
  const dying = await connect(`${prefix}-dying`, { will: { topic: `${prefix}/will`, payload: Buffer.from('gone'), qos: 1, retain: false } });
  // Drop the socket without DISCONNECT: the broker must publish the will (MQTT-3.1.2-8).
  dying.stream.destroy();
  const received = await got;
  dying.end(true);
  await sub.endAsync();
  return { received };
}

async function large() {
  const size = 300 * 1024;
  const sub = await connect(`${prefix}-sub`);
  await sub.subscribeAsync(`${prefix}/big`, { qos: 1 });
  const got = collect(sub, 1);
  const pub = await connect(`${prefix}-pub`);
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = 97 + (i % 26);
  await pub.publishAsync(`${prefix}/big`, payload, { qos: 1 });
  const [message] = await got;
  await pub.endAsync(); await sub.endAsync();
  return { size: message.size, same: message.payload === payload.toString('utf8') };
}

// MQTT 5 over WebSocket: QoS 1/2 with user properties, a topic alias, and (after "ready") one
// message from a TCP publisher. The subscriber and the publisher are both v5 clients on ws.
async function v5() {
  const v5opts = { protocolVersion: 5 };
  const sub = await connect(`${prefix}-sub5`, v5opts);
  const granted = await sub.subscribeAsync(`${prefix}/v5/#`, { qos: 2 });
  const received = [];
  const got = new Promise(resolve => {
    sub.on('message', (topic, payload, packet) => {
      received.push({ topic, payload: payload.toString('utf8'), qos: packet.qos,
        user: packet.properties?.userProperties ?? null, contentType: packet.properties?.contentType ?? null });
      if (received.length >= 5) resolve();
    });
  });
  const pub = await connect(`${prefix}-pub5`, v5opts);
  await pub.publishAsync(`${prefix}/v5/one`, 'q1', { qos: 1, properties: { userProperties: { room: 'kitchen' } } });
  await pub.publishAsync(`${prefix}/v5/two`, 'q2', { qos: 2, properties: { userProperties: { room: 'hall', floor: '1' }, contentType: 'text/plain' } });
  // MQTT 5 §3.3.2.3.4: the first PUBLISH sets alias 3, the second carries only the alias.
  await pub.publishAsync(`${prefix}/v5/alias`, 'a1', { qos: 1, properties: { topicAlias: 3 } });
  await pub.publishAsync('', 'a2', { qos: 2, properties: { topicAlias: 3 } });
  console.log(JSON.stringify({ ready: true }));
  await got;
  await pub.endAsync(); await sub.endAsync();
  return { granted: granted.map(g => g.qos), received };
}

// A v5 device (client id = its identifier, args: identifier): publishes retained state
// power=off, answers every command on devices/{id}/commands/+ on the Response Topic with the
// same Correlation Data (MQTT 5 §4.10), until stdin closes.
async function device() {
  clearTimeout(timeout);
  const id = process.argv[5];
  const client = await connect(id, { protocolVersion: 5 });
  await client.publishAsync(`devices/${id}/state/power`, 'off', { qos: 1, retain: true });
  client.on('message', (topic, payload, packet) => {
    const props = packet.properties ?? {};
    if (props.responseTopic) {
      client.publish(props.responseTopic, `ack:${topic.split('/').pop()}:${payload.toString('utf8')}`,
        { qos: 1, properties: { correlationData: props.correlationData } });
    }
  });
  await client.subscribeAsync(`devices/${id}/commands/+`, { qos: 1 });
  console.log(JSON.stringify({ ready: true }));
  await new Promise(resolve => process.stdin.on('end', resolve).resume());
  await client.endAsync();
  return { held: true };
}

// Subscribes and waits for `count` messages published by somebody else (another protocol).
async function listen(count) {
  const sub = await connect(`${prefix}-listen`);
  const got = collect(sub, count);
  await sub.subscribeAsync(`${prefix}/#`, { qos: 1 });
  console.log(JSON.stringify({ ready: true }));
  const received = await got;
  await sub.endAsync();
  return { received };
}

// Publishes one message (args: topic payload qos retain) and leaves.
async function publish() {
  const pub = await connect(`${prefix}-pub`);
  await pub.publishAsync(process.argv[5], process.argv[6], { qos: Number(process.argv[7] ?? 0), retain: process.argv[8] === 'true' });
  await pub.endAsync();
  return { published: true };
}

// Stays connected with a given client id until stdin closes (a device being online).
async function hold() {
  clearTimeout(timeout);
  const client = await connect(process.argv[5]);
  console.log(JSON.stringify({ connected: true }));
  await new Promise(resolve => process.stdin.on('end', resolve).resume());
  await client.endAsync();
  return { held: true };
}

const scenarios = { v5, device, qos, retained, will, large, listen: () => listen(Number(process.argv[5] ?? 1)), publish, hold };
try {
  const result = await scenarios[scenario]();
  console.log(JSON.stringify(result));
  clearTimeout(timeout);
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ error: String(e && e.stack || e) }));
  process.exit(2);
}
