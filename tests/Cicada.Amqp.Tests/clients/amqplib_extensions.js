// RabbitMQ-extension scenarios driven by amqplib (npm), run as: node amqplib_extensions.js NAME AMQP_PORT MQTT_PORT.
// Each scenario asserts what RabbitMQ would do and prints OK; a failure exits non-zero.
'use strict';
const amqp = require('amqplib');
const assert = require('node:assert/strict');
const { randomUUID } = require('node:crypto');

const [name, amqpPort] = process.argv.slice(2);
const url = `amqp://guest:guest@127.0.0.1:${amqpPort}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const unique = (prefix) => `${prefix}-${randomUUID().slice(0, 8)}`;

async function getOne(ch, queue) {
  for (let i = 0; i < 60; i++) {
    const m = await ch.get(queue, { noAck: true });
    if (m) return m;
    await sleep(50);
  }
  return false;
}

const scenarios = {
  // Many confirms outstanding at once: the broker may settle them with multiple=true; amqplib must see each settled once.
  async confirmsManyOutstanding() {
    const conn = await amqp.connect(url);
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    const acked = [];
    for (let i = 0; i < 200; i++) {
      ch.sendToQueue(queue, Buffer.from(`m${i}`), {}, (err) => { assert.ifError(err); acked.push(i); });
    }
    await ch.waitForConfirms();
    assert.equal(acked.length, 200);
    assert.equal((await ch.checkQueue(queue)).messageCount, 200);
    await conn.close();
  },

  async exchangeBindings() {
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    const src = unique('ax-src');
    const dst = unique('ax-dst');
    await ch.assertExchange(src, 'topic', { durable: false });
    await ch.assertExchange(dst, 'direct', { durable: false });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, dst, 'alarm.fire');
    await ch.bindExchange(dst, src, 'alarm.*');
    ch.publish(src, 'alarm.fire', Buffer.from('fire'));
    ch.publish(src, 'alarm.flood', Buffer.from('flood')); // passes src, but dst has no such binding
    const m = await getOne(ch, queue);
    assert.ok(m, 'nothing through the exchange binding');
    assert.equal(m.content.toString(), 'fire');
    await sleep(200);
    assert.equal(await ch.get(queue, { noAck: true }), false);
    await ch.unbindExchange(dst, src, 'alarm.*');
    ch.publish(src, 'alarm.fire', Buffer.from('after-unbind'));
    await sleep(200);
    assert.equal(await ch.get(queue, { noAck: true }), false);
    await ch.deleteExchange(src);
    await ch.deleteExchange(dst);
    await conn.close();
  },

  async queueLimits() {
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    const q = unique('alimits');
    await ch.assertQueue(q, { exclusive: true, maxLength: 3, messageTtl: 60000 });
    for (let i = 0; i < 10; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    await sleep(200);
    assert.equal((await ch.checkQueue(q)).messageCount, 3);
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await getOne(ch, q)).content.toString());
    assert.deepEqual(got, ['m7', 'm8', 'm9']);

    const t = unique('attl');
    await ch.assertQueue(t, { exclusive: true, messageTtl: 200 });
    ch.sendToQueue(t, Buffer.from('expires'));
    await sleep(600);
    assert.equal(await ch.get(t, { noAck: true }), false, 'an expired message was delivered');
    await conn.close();
  },
};

scenarios[name]().then(() => { console.log('OK'); process.exit(0); }, (e) => { console.error(e); process.exit(1); });
