// AMQP scenarios driven by amqplib (npm), run as: node amqplib_scenarios.js NAME AMQP_PORT MQTT_PORT.
// Each scenario asserts and prints OK; a failure exits non-zero.
'use strict';
const amqp = require('amqplib');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const { randomUUID } = require('node:crypto');

const [name, amqpPort, mqttPort] = process.argv.slice(2);
const url = `amqp://guest:guest@127.0.0.1:${amqpPort}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function getOne(ch, queue, options = {}) {
  for (let i = 0; i < 60; i++) {
    const m = await ch.get(queue, options);
    if (m) return m;
    await sleep(50);
  }
  return false;
}

const scenarios = {
  async confirmsConsumeAck() {
    const conn = await amqp.connect(url);
    const ch = await conn.createConfirmChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.direct', queue);
    for (let i = 0; i < 20; i++) {
      ch.publish('amq.direct', queue, Buffer.from(`m${i}`), { persistent: true, contentType: 'text/plain', headers: { i } });
    }
    await ch.waitForConfirms();
    const got = [];
    await new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error(`only ${got.length} delivered`)), 10000);
      ch.consume(queue, (msg) => {
        got.push(msg.content.toString());
        assert.equal(msg.properties.contentType, 'text/plain');
        assert.equal(msg.properties.headers.i, got.length - 1);
        assert.equal(msg.fields.exchange, 'amq.direct');
        ch.ack(msg);
        if (got.length === 20) resolve();
      });
    });
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => `m${i}`));
    await conn.close();
  },

  async prefetchAndNack() {
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    for (let i = 0; i < 5; i++) ch.sendToQueue(queue, Buffer.from(`m${i}`));
    await ch.prefetch(3);
    const held = [];
    await ch.consume(queue, (msg) => held.push(msg));
    await sleep(800);
    assert.equal(held.length, 3, `prefetch 3 delivered ${held.length}`);
    ch.nack(held[0], false, true); // requeue one: it comes back redelivered
    await sleep(800);
    assert.equal(held.length, 4);
    assert.equal(held[3].content.toString(), 'm0');
    assert.equal(held[3].fields.redelivered, true);
    ch.ackAll(); // basic.ack tag 0 multiple: room for the two still queued
    await sleep(500);
    assert.deepEqual(held.map((m) => m.content.toString()), ['m0', 'm1', 'm2', 'm0', 'm3', 'm4']);
    await conn.close();
  },

  async topicSpace() {
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, 'amq.topic', 'plant.#');
    execFileSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', mqttPort, '-t', 'plant/1/moisture', '-m', '33']);
    const m = await getOne(ch, queue, { noAck: true });
    assert.ok(m, 'nothing from MQTT');
    assert.equal(m.content.toString(), '33');
    assert.equal(m.fields.routingKey, 'plant.1.moisture');

    const sub = spawn('mosquitto_sub', ['-h', '127.0.0.1', '-p', mqttPort, '-t', 'pump/#', '-C', '1', '-v', '-W', '10']);
    let out = '';
    sub.stdout.on('data', (d) => { out += d; });
    const exited = new Promise((r) => sub.on('exit', r));
    await sleep(700);
    ch.publish('amq.topic', 'pump.1.state', Buffer.from('running'));
    await exited;
    assert.equal(out.trim(), 'pump/1/state running');
    await conn.close();
  },

  async errors() {
    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    const closed = new Promise((r) => ch.on('error', r));
    await assert.rejects(ch.checkQueue(`missing-${randomUUID()}`), /404/);
    await closed;
    const ch2 = await conn.createChannel(); // the connection survived the channel error
    await ch2.assertQueue('', { exclusive: true });
    await conn.close();
  },
};

scenarios[name]().then(() => { console.log('OK'); process.exit(0); }, (e) => { console.error(e); process.exit(1); });
