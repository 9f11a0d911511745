"""RabbitMQ-extension and tx scenarios driven by pika, run as: pika_extensions.py NAME AMQP_PORT MQTT_PORT.

tx (AMQP 0-9-1 §1.9), exchange-to-exchange bindings, queue arguments (x-message-ttl, x-max-length,
x-overflow, x-expires) and per-message expiration. Each scenario asserts what RabbitMQ would do and
prints OK; any failure exits non-zero. Run with /usr/bin/python3 (the Debian python that has pika).
"""
import subprocess
import sys
import time
import uuid

import pika
from pika.exceptions import ChannelClosedByBroker, NackError

NAME, AMQP_PORT, MQTT_PORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def connect():
    return pika.BlockingConnection(pika.ConnectionParameters(host="127.0.0.1", port=AMQP_PORT, connection_attempts=1))


def unique(prefix):
    return prefix + "-" + uuid.uuid4().hex[:8]


def count(conn, queue):
    """Ready messages, asked on a channel of its own (passive declare)."""
    ch = conn.channel()
    n = ch.queue_declare(queue, passive=True).method.message_count
    ch.close()
    return n


def wait_until(condition, what, timeout=10.0):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.05)


def get_body(ch, queue, wait=3.0):
    deadline = time.time() + wait
    while True:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is not None or time.time() > deadline:
            return body
        time.sleep(0.05)


def expect_channel_error(conn, code, fn):
    ch = conn.channel()
    try:
        fn(ch)
    except ChannelClosedByBroker as e:
        assert e.reply_code == code, f"expected {code}, got {e.reply_code} {e.reply_text}"
        return e
    raise AssertionError(f"expected channel error {code}")


def tx_commit_and_rollback():
    conn = connect()
    q = unique("tx")
    setup = conn.channel()
    setup.queue_declare(q, durable=True)
    ch = conn.channel()
    ch.tx_select()
    ch.basic_publish("", q, b"rolled-back", pika.BasicProperties(delivery_mode=2))
    ch.basic_publish("", q, b"rolled-back-too", pika.BasicProperties(delivery_mode=2))
    time.sleep(0.3)
    assert count(conn, q) == 0, "a transactional publish took effect before commit"
    ch.tx_rollback()
    assert count(conn, q) == 0, "rollback kept publishes"
    ch.basic_publish("", q, b"a", pika.BasicProperties(delivery_mode=2))
    ch.basic_publish("", q, b"b", pika.BasicProperties(delivery_mode=2))
    ch.tx_commit()
    assert count(conn, q) == 2, "commit-ok came before the publishes were queued"

    # Acks are transactional too: rolled back, the delivery is unacknowledged again.
    method, _, body = ch.basic_get(q)
    assert body == b"a", body
    ch.basic_ack(method.delivery_tag)
    ch.tx_rollback()
    ch.close()  # the un-acked "a" goes back to the queue
    ch = conn.channel()
    ch.tx_select()
    wait_until(lambda: count(conn, q) == 2, "the rolled-back ack's message to be requeued")
    method, _, body = ch.basic_get(q)
    assert body == b"a" and method.redelivered, (body, method)
    ch.basic_ack(method.delivery_tag)
    ch.tx_commit()
    assert count(conn, q) == 1
    setup.queue_delete(q)
    conn.close()


def tx_and_confirm_exclude_each_other():
    conn = connect()
    e = expect_channel_error(conn, 406, lambda ch: (ch.confirm_delivery(), ch.tx_select()))
    assert "confirm" in e.reply_text, e.reply_text
    expect_channel_error(conn, 406, lambda ch: (ch.tx_select(), ch.confirm_delivery()))
    expect_channel_error(conn, 406, lambda ch: ch.tx_commit())
    expect_channel_error(conn, 406, lambda ch: ch.tx_rollback())
    assert conn.is_open
    conn.close()


def exchange_to_exchange():
    conn = connect()
    ch = conn.channel()
    src, dst = unique("e2e-src"), unique("e2e-dst")
    ch.exchange_declare(src, "direct", auto_delete=False)
    ch.exchange_declare(dst, "fanout", auto_delete=False)
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q, dst)
    ch.exchange_bind(destination=dst, source=src, routing_key="k")
    ch.basic_publish(src, "k", b"through")
    ch.basic_publish(src, "other", b"not-bound")
    assert get_body(ch, q) == b"through"
    time.sleep(0.2)
    assert ch.basic_get(q, auto_ack=True)[0] is None, "a key the binding does not match was routed"

    # A cycle (src -> dst -> src) must neither loop nor duplicate.
    ch.exchange_bind(destination=src, source=dst)
    ch.basic_publish(src, "k", b"once")
    assert get_body(ch, q) == b"once"
    time.sleep(0.2)
    assert ch.basic_get(q, auto_ack=True)[0] is None, "a cycle delivered twice"

    ch.exchange_unbind(destination=dst, source=src, routing_key="k")
    ch.exchange_unbind(destination=src, source=dst)
    ch.basic_publish(src, "k", b"unbound")
    time.sleep(0.2)
    assert ch.basic_get(q, auto_ack=True)[0] is None, "routed after exchange.unbind"

    # Missing exchanges are 404; binding the default exchange is 403 (as queue.bind).
    expect_channel_error(conn, 404, lambda c: c.exchange_bind(destination=dst, source=unique("nope")))
    expect_channel_error(conn, 403, lambda c: c.exchange_bind(destination="", source=src))
    ch.exchange_delete(src)
    ch.exchange_delete(dst)
    conn.close()


def exchange_to_amq_topic_reaches_mqtt():
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(MQTT_PORT), "-t", "e2e/+/state", "-C", "1", "-v", "-W", "10"],
                           stdout=subprocess.PIPE, text=True)
    conn = connect()
    ch = conn.channel()
    x = unique("e2e-topic")
    ch.exchange_declare(x, "topic", auto_delete=True)
    ch.exchange_bind(destination="amq.topic", source=x, routing_key="e2e.#")
    ch.confirm_delivery()
    # Until the subscriber (which may still be connecting) has one: it exits after the first message.
    deadline = time.time() + 10
    while sub.poll() is None and time.time() < deadline:
        ch.basic_publish(x, "e2e.lamp.state", b"on")
        time.sleep(0.3)
    out, _ = sub.communicate(timeout=15)
    assert out.strip() == "e2e/lamp/state on", out
    conn.close()


def message_ttl():
    conn = connect()
    ch = conn.channel()
    q = unique("ttl")
    # Long enough that a loaded machine still counts all three before they expire.
    ch.queue_declare(q, arguments={"x-message-ttl": 2000})
    for i in range(3):
        ch.basic_publish("", q, f"m{i}".encode())
    assert count(conn, q) == 3
    wait_until(lambda: count(conn, q) == 0, "x-message-ttl to expire the messages")
    assert ch.basic_get(q)[0] is None

    # Per-message expiration on a queue without TTL: the short one expires, the long one stays.
    q2 = unique("expiration")
    ch.queue_declare(q2)
    ch.basic_publish("", q2, b"short", pika.BasicProperties(expiration="200"))
    time.sleep(0.5)
    ch.basic_publish("", q2, b"long", pika.BasicProperties(expiration="60000"))
    assert get_body(ch, q2) == b"long"
    assert ch.basic_get(q2)[0] is None

    # An expiration that is not a non-negative integer is refused (RabbitMQ: 406).
    expect_channel_error(conn, 406, lambda c: (c.basic_publish("", q2, b"x", pika.BasicProperties(expiration="soon")), c.queue_declare(q2, passive=True)))
    ch.queue_delete(q)
    ch.queue_delete(q2)
    conn.close()


def max_length_drop_head():
    conn = connect()
    ch = conn.channel()
    q = unique("maxlen")
    ch.queue_declare(q, arguments={"x-max-length": 2})
    ch.confirm_delivery()
    for i in range(5):
        ch.basic_publish("", q, f"m{i}".encode())
    assert count(conn, q) == 2
    assert [get_body(ch, q), get_body(ch, q)] == [b"m3", b"m4"]
    ch.queue_delete(q)
    conn.close()


def max_length_reject_publish():
    conn = connect()
    ch = conn.channel()
    q = unique("reject")
    ch.queue_declare(q, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    ch.basic_publish("", q, b"kept")
    try:
        ch.basic_publish("", q, b"refused")
        raise AssertionError("a publish to a full reject-publish queue was confirmed")
    except NackError:
        pass
    assert count(conn, q) == 1
    assert get_body(ch, q) == b"kept"
    ch.basic_publish("", q, b"room-again")  # confirmed: raises if nacked
    # In a transaction the refused message is dropped; the commit itself succeeds.
    tx = conn.channel()
    tx.tx_select()
    tx.basic_publish("", q, b"dropped-in-tx")
    tx.tx_commit()
    assert tx.is_open and count(conn, q) == 1
    ch.queue_delete(q)
    conn.close()


def queue_expires():
    conn = connect()
    ch = conn.channel()
    q = unique("expires")
    ch.queue_declare(q, arguments={"x-expires": 1000})
    ch.close()

    def gone():
        try:
            c = conn.channel()
            c.queue_declare(q, passive=True)
            c.close()
            return False
        except ChannelClosedByBroker as e:
            assert e.reply_code == 404, e
            return True

    wait_until(gone, "the unused queue to be deleted by x-expires")
    conn.close()


def invalid_arguments_are_406():
    conn = connect()
    for args in ({"x-message-ttl": -1}, {"x-expires": 0}, {"x-max-length": "ten"}, {"x-overflow": "drop-tail"}, {"x-message-ttl": "1000"}):
        expect_channel_error(conn, 406, lambda c: c.queue_declare(unique("bad"), arguments=args))
    q = unique("equiv")
    ch = conn.channel()
    ch.queue_declare(q, arguments={"x-message-ttl": 1000})
    ch.queue_declare(q, arguments={"x-message-ttl": 1000})  # the same: fine
    e = expect_channel_error(conn, 406, lambda c: c.queue_declare(q, arguments={"x-message-ttl": 2000}))
    assert "x-message-ttl" in e.reply_text, e.reply_text
    ch.queue_delete(q)
    conn.close()


SCENARIOS = {f.__name__: f for f in [tx_commit_and_rollback, tx_and_confirm_exclude_each_other, exchange_to_exchange,
                                     exchange_to_amq_topic_reaches_mqtt, message_ttl, max_length_drop_head, max_length_reject_publish,
                                     queue_expires, invalid_arguments_are_406]}

if __name__ == "__main__":
    SCENARIOS[NAME]()
    print("OK")
