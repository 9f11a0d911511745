"""AMQP scenarios driven by pika (Debian python3-pika), run as: pika_scenarios.py NAME AMQP_PORT MQTT_PORT.

Each scenario asserts what RabbitMQ would do and prints OK at the end; any failure exits non-zero
with the assertion. Run with /usr/bin/python3 (the Debian python that has pika).
"""
import subprocess
import sys
import time
import uuid

import pika
from pika.exceptions import ChannelClosedByBroker, ConnectionClosedByBroker, ProbableAuthenticationError, UnroutableError

NAME, AMQP_PORT, MQTT_PORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def connect(**kw):
    params = dict(host="127.0.0.1", port=AMQP_PORT, connection_attempts=1, blocked_connection_timeout=10)
    params.update(kw)
    return pika.BlockingConnection(pika.ConnectionParameters(**params))


def unique(prefix):
    return prefix + "-" + uuid.uuid4().hex[:8]


def get(ch, queue, auto_ack=False, wait=3.0):
    """basic.get until a message arrives (routing is asynchronous) or the wait ends."""
    deadline = time.time() + wait
    while True:
        method, props, body = ch.basic_get(queue, auto_ack=auto_ack)
        if method is not None or time.time() > deadline:
            return method, props, body
        time.sleep(0.05)


def expect_channel_error(code, fn):
    try:
        fn()
    except ChannelClosedByBroker as e:
        assert e.reply_code == code, f"expected {code}, got {e.reply_code} {e.reply_text}"
        return e
    raise AssertionError(f"expected channel error {code}")


def properties_end_to_end():
    conn = connect()
    ch = conn.channel()
    q = unique("props")
    ch.queue_declare(q, auto_delete=True)
    ch.queue_bind(q, "amq.direct", q)
    sent = pika.BasicProperties(content_type="application/json", content_encoding="utf-8", headers={"k": "v", "n": 42, "b": True},
                                delivery_mode=2, priority=5, correlation_id="corr-1", reply_to="replies", message_id="m-1",
                                timestamp=1700000000, type="reading", user_id="guest", app_id="tests")
    ch.basic_publish("amq.direct", q, b'{"t": 21.5}', sent)
    method, props, body = get(ch, q)
    assert body == b'{"t": 21.5}', body
    assert method.exchange == "amq.direct" and method.routing_key == q, method
    for field in ("content_type", "content_encoding", "headers", "delivery_mode", "priority", "correlation_id", "reply_to",
                  "message_id", "timestamp", "type", "user_id", "app_id"):
        assert getattr(props, field) == getattr(sent, field), (field, getattr(props, field), getattr(sent, field))
    ch.basic_ack(method.delivery_tag)
    conn.close()


def consume_ack_and_confirm():
    conn = connect()
    ch = conn.channel()
    ch.confirm_delivery()
    q = ch.queue_declare("", exclusive=True).method.queue
    assert q.startswith("amq.gen-"), q
    for i in range(10):
        ch.basic_publish("", q, f"m{i}".encode(), pika.BasicProperties(delivery_mode=2))  # confirmed: raises if nacked
    assert ch.queue_declare(q, passive=True).method.message_count == 10
    got = []

    def on_message(c, method, props, body):
        got.append(body)
        c.basic_ack(method.delivery_tag)
        if len(got) == 10:
            c.stop_consuming()

    tag = ch.basic_consume(q, on_message)
    conn.call_later(10, ch.stop_consuming)
    ch.start_consuming()
    assert got == [f"m{i}".encode() for i in range(10)], got
    ch.basic_cancel(tag)
    assert ch.queue_declare(q, passive=True).method.message_count == 0
    try:
        ch.basic_publish("amq.direct", unique("nobody"), b"lost", mandatory=True)
    except UnroutableError as e:
        assert e.messages[0].method.reply_code == 312, e.messages[0].method
        assert e.messages[0].body == b"lost"
    else:
        raise AssertionError("mandatory unroutable publish was not returned")
    conn.close()


def ack_nack_reject_requeue():
    conn = connect()
    ch = conn.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    for i in range(5):
        ch.basic_publish("", q, f"m{i}".encode())
    m0, _, b0 = get(ch, q)
    assert b0 == b"m0" and not m0.redelivered
    ch.basic_nack(m0.delivery_tag, requeue=True)
    m0b, _, b0b = get(ch, q)
    assert b0b == b"m0" and m0b.redelivered, (b0b, m0b.redelivered)
    ch.basic_reject(m0b.delivery_tag, requeue=False)
    tags = [get(ch, q)[0].delivery_tag for _ in range(3)]  # m1, m2, m3
    ch.basic_ack(tags[1], multiple=True)                   # acks m1 and m2
    ch.basic_nack(tags[2], requeue=True)                   # m3 back
    left = []
    while True:
        m, _, b = ch.basic_get(q, auto_ack=True)
        if m is None:
            break
        left.append(b)
    assert left == [b"m3", b"m4"], left
    # basic.recover: unacknowledged messages come back, redelivered.
    ch.basic_publish("", q, b"r")
    m, _, _ = get(ch, q)
    ch.basic_recover(requeue=True)
    m2, _, b2 = get(ch, q)
    assert b2 == b"r" and m2.redelivered
    ch.basic_ack(m2.delivery_tag)
    expect_channel_error(406, lambda: (ch.basic_ack(9999), ch.queue_declare(q, passive=True)))
    conn.close()


def prefetch():
    conn = connect()
    ch = conn.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    for i in range(6):
        ch.basic_publish("", q, f"m{i}".encode())
    ch.basic_qos(prefetch_count=2)
    held = []
    ch.basic_consume(q, lambda c, m, p, b: held.append(m))
    conn.process_data_events(time_limit=1.0)
    assert len(held) == 2, f"prefetch 2 delivered {len(held)}"
    ch.basic_ack(held[1].delivery_tag, multiple=True)
    conn.process_data_events(time_limit=1.0)
    assert len(held) == 4, f"after acking 2, {len(held)} delivered"
    conn.close()
    # Closing the channel requeued the unacknowledged ones: m4, m5 ready plus m2, m3 redelivered.
    conn = connect()
    ch = conn.channel()
    conn.close()


def exchanges_and_queues():
    conn = connect()
    ch = conn.channel()
    fan, top, hdr = unique("fan"), unique("top"), unique("hdr")
    ch.exchange_declare(fan, "fanout", auto_delete=True)
    ch.exchange_declare(top, "topic")
    ch.exchange_declare(hdr, "headers")
    ch.exchange_declare(fan, "fanout", passive=True)
    q1 = ch.queue_declare("", exclusive=True).method.queue
    q2 = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q1, fan)
    ch.queue_bind(q2, fan)
    ch.basic_publish(fan, "ignored", b"f")
    assert get(ch, q1, auto_ack=True)[2] == b"f" and get(ch, q2, auto_ack=True)[2] == b"f"
    ch.queue_bind(q1, top, "a.*.c")
    ch.queue_bind(q2, top, "a.#")
    ch.basic_publish(top, "a.b.c", b"both")
    ch.basic_publish(top, "a.b.b.c", b"q2only")
    assert get(ch, q1, auto_ack=True)[2] == b"both"
    assert get(ch, q2, auto_ack=True)[2] == b"both" and get(ch, q2, auto_ack=True)[2] == b"q2only"
    assert ch.basic_get(q1)[0] is None
    ch.queue_bind(q1, hdr, arguments={"x-match": "all", "kind": "temp", "room": "kitchen"})
    ch.queue_bind(q2, hdr, arguments={"x-match": "any", "kind": "temp", "room": "hall"})
    ch.basic_publish(hdr, "", b"h1", pika.BasicProperties(headers={"kind": "temp", "room": "kitchen"}))
    ch.basic_publish(hdr, "", b"h2", pika.BasicProperties(headers={"room": "hall"}))
    assert get(ch, q1, auto_ack=True)[2] == b"h1" and ch.basic_get(q1)[0] is None
    assert get(ch, q2, auto_ack=True)[2] == b"h1" and get(ch, q2, auto_ack=True)[2] == b"h2"
    ch.queue_unbind(q1, top, "a.*.c")
    ch.basic_publish(top, "a.b.c", b"after-unbind")
    assert get(ch, q2, auto_ack=True)[2] == b"after-unbind"
    assert ch.basic_get(q1)[0] is None
    for i in range(3):
        ch.basic_publish("", q1, b"x")
    time.sleep(0.2)
    assert ch.queue_purge(q1).method.message_count == 3
    ch.basic_publish("", q1, b"x")
    time.sleep(0.2)
    expect_channel_error(406, lambda: ch.queue_delete(q1, if_empty=True))
    ch = conn.channel()
    assert ch.queue_delete(q1).method.message_count == 1
    expect_channel_error(404, lambda: ch.queue_declare(q1, passive=True))
    ch = conn.channel()
    ch.exchange_delete(top)
    expect_channel_error(404, lambda: ch.exchange_declare(top, "topic", passive=True))
    conn.close()


def error_codes():
    conn = connect()
    ch = conn.channel()
    expect_channel_error(404, lambda: ch.queue_declare(unique("missing"), passive=True))
    ch = conn.channel()
    expect_channel_error(404, lambda: ch.basic_publish(unique("noexchange"), "k", b"x") or ch.queue_declare("", exclusive=True))
    ch = conn.channel()
    ex = unique("ex")
    ch.exchange_declare(ex, "direct", auto_delete=True)
    expect_channel_error(406, lambda: ch.exchange_declare(ex, "fanout", auto_delete=True))
    ch = conn.channel()
    expect_channel_error(403, lambda: ch.exchange_declare("amq.mine", "direct"))
    ch = conn.channel()
    mine = ch.queue_declare("", exclusive=True).method.queue
    other = connect()
    och = other.channel()
    expect_channel_error(405, lambda: och.queue_declare(mine, passive=True))
    other.close()
    # A channel error closes only that channel: another channel on the connection carries on.
    ch2 = conn.channel()
    ch3 = conn.channel()
    expect_channel_error(404, lambda: ch2.queue_declare(unique("missing"), passive=True))
    ch3.basic_publish("", mine, b"still-here")
    assert get(ch, mine, auto_ack=True)[2] == b"still-here"
    conn.close()
    try:
        connect(credentials=pika.PlainCredentials("nobody", "wrong"))
    except (ProbableAuthenticationError, ConnectionClosedByBroker) as e:
        assert "403" in str(e) or "ACCESS_REFUSED" in str(e), e
    else:
        raise AssertionError("bad credentials were accepted")


def consumer_cancel_notify():
    conn = connect()
    ch = conn.channel()
    q = unique("cancelled")
    ch.queue_declare(q)
    cancelled = []
    ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
    tag = ch.basic_consume(q, lambda *a: None)
    other = conn.channel()
    other.queue_delete(q)
    conn.process_data_events(time_limit=1.0)
    assert cancelled == [tag], cancelled
    conn.close()


def mqtt_to_amqp():
    conn = connect()
    ch = conn.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q, "amq.topic", "home.*.temp")
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(MQTT_PORT), "-t", "home/kitchen/temp", "-m", "21.5", "-q", "1"],
                   check=True, timeout=10)
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(MQTT_PORT), "-t", "home/kitchen/humidity", "-m", "40"],
                   check=True, timeout=10)
    method, props, body = get(ch, q, auto_ack=True)
    assert body == b"21.5", body
    assert method.exchange == "amq.topic" and method.routing_key == "home.kitchen.temp", method
    assert props.delivery_mode == 2, props  # MQTT QoS 1 is a persistent AMQP message
    assert ch.basic_get(q)[0] is None  # humidity did not match
    conn.close()


def amqp_to_mqtt():
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(MQTT_PORT), "-t", "lights/+/set", "-C", "1", "-v", "-W", "10"],
                           stdout=subprocess.PIPE, text=True)
    time.sleep(0.7)
    conn = connect()
    ch = conn.channel()
    ch.confirm_delivery()
    ch.basic_publish("amq.topic", "lights.hall.set", b"on")
    out, _ = sub.communicate(timeout=15)
    assert out.strip() == "lights/hall/set on", out
    conn.close()


def heartbeat():
    conn = connect(heartbeat=1)
    ch = conn.channel()
    # No traffic for 3.5 s: the server's heartbeats keep pika's watchdog happy and ours sees pika's.
    conn.sleep(3.5)
    assert conn.is_open
    ch.queue_declare("", exclusive=True)
    conn.close()


SCENARIOS = {f.__name__: f for f in [properties_end_to_end, consume_ack_and_confirm, ack_nack_reject_requeue, prefetch,
                                     exchanges_and_queues, error_codes, consumer_cancel_notify, mqtt_to_amqp, amqp_to_mqtt, heartbeat]}

if __name__ == "__main__":
    SCENARIOS[NAME]()
    print("OK")
