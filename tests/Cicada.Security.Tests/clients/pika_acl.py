"""The ACL at the AMQP edge, driven by pika (Debian python3-pika):
pika_acl.py SCENARIO AMQP_PORT ALICE_PASSWORD BOB_PASSWORD.

The broker's ACL (AclEdgeTests.cs) gives alice readwrite home/# except home/secret/#, bob read
home/public/# and write bob/out/#. Each scenario prints OK at the end; a failed assertion exits
non-zero. Run with /usr/bin/python3 (the Debian python that has pika).
"""
import sys
import time
import uuid

import pika
from pika.exceptions import ChannelClosedByBroker

NAME, AMQP_PORT, ALICE_PASSWORD, BOB_PASSWORD = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def connect(user, password):
    return pika.BlockingConnection(pika.ConnectionParameters(
        host="127.0.0.1", port=AMQP_PORT, connection_attempts=1, blocked_connection_timeout=10,
        credentials=pika.PlainCredentials(user, password)))


def alice():
    return connect("alice", ALICE_PASSWORD)


def bob():
    return connect("bob", BOB_PASSWORD)


def unique(prefix):
    return prefix + "-" + uuid.uuid4().hex[:8]


def expect_access_refused(fn, *fragments):
    """AMQP 0-9-1 §1.2: access-refused is 403, a channel (soft) error."""
    try:
        fn()
    except ChannelClosedByBroker as e:
        assert e.reply_code == 403, f"expected 403, got {e.reply_code} {e.reply_text}"
        assert e.reply_text.startswith("ACCESS_REFUSED"), e.reply_text
        for fragment in fragments:
            assert fragment in e.reply_text, f"'{fragment}' not in '{e.reply_text}'"
        return
    raise AssertionError("expected channel.close 403 ACCESS_REFUSED")


def drain(ch, queue, until, wait=10.0):
    """basic.get until the sentinel body arrives; returns every body before it."""
    bodies, deadline = [], time.time() + wait
    while time.time() < deadline:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            time.sleep(0.05)
            continue
        if body == until:
            return bodies
        bodies.append(body)
    raise AssertionError(f"sentinel {until!r} never arrived; got {bodies!r}")


def publish_denied():
    tag = unique("pub")
    watcher = alice()
    wch = watcher.channel()
    q = wch.queue_declare("", exclusive=True).method.queue
    wch.queue_bind(q, "amq.topic", f"home.public.{tag}.#")

    conn = bob()
    ch = conn.channel()
    ch.confirm_delivery()
    expect_access_refused(lambda: ch.basic_publish("amq.topic", f"home.public.{tag}.lamp", b"from bob"),
                          f"home.public.{tag}.lamp", "user 'bob'")

    # A soft error: the connection stays, and what bob may write goes through.
    assert conn.is_open
    ch2 = conn.channel()
    ch2.confirm_delivery()
    ch2.basic_publish("amq.topic", f"bob.out.{tag}", b"allowed")
    # Exchanges other than amq.topic never reach the topic space: no topic ACL applies there.
    ch2.basic_publish("amq.direct", "nowhere", b"not a topic")

    # The denied message was never routed: the watcher sees only alice's sentinel.
    pch = watcher.channel()
    pch.confirm_delivery()
    pch.basic_publish("amq.topic", f"home.public.{tag}.end", b"end")
    assert drain(wch, q, b"end") == [], "a refused publish was delivered"
    conn.close()
    watcher.close()


def bind_denied():
    conn = bob()
    ch = conn.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    expect_access_refused(lambda: ch.queue_bind(q, "amq.topic", "home.#"), "home.#")
    # home.*.lamp is home/+/lamp: not covered by bob's home/public/#.
    ch = conn.channel()
    expect_access_refused(lambda: ch.queue_bind(q, "amq.topic", "home.*.lamp"))
    ch = conn.channel()
    ch.queue_bind(q, "amq.topic", "home.public.#")

    # A deny rule overlapping the key refuses it even for a user granted the rest (alice: home/secret/#).
    conn2 = alice()
    ch2 = conn2.channel()
    q2 = ch2.queue_declare("", exclusive=True).method.queue
    expect_access_refused(lambda: ch2.queue_bind(q2, "amq.topic", "home.#"), "user 'alice'")
    ch2 = conn2.channel()
    ch2.queue_bind(q2, "amq.topic", "home.kitchen.#")
    conn.close()
    conn2.close()


def consume_denied():
    owner = alice()
    och = owner.channel()
    q = unique("alice-kitchen")
    och.queue_declare(q, auto_delete=False)
    och.queue_bind(q, "amq.topic", "home.kitchen.#")
    och.confirm_delivery()
    och.basic_publish("amq.topic", "home.kitchen.temp", b"21.5")

    # bob may not read home/kitchen/#: alice's queue is no way around that.
    conn = bob()
    expect_access_refused(lambda: conn.channel().basic_get(q, auto_ack=True), q)
    expect_access_refused(lambda: conn.channel().basic_consume(q, lambda *a: None), q)
    assert conn.is_open
    conn.close()

    och.basic_publish("amq.topic", "home.kitchen.end", b"end")
    assert drain(och, q, b"end") == [b"21.5"]
    och.queue_delete(q)
    owner.close()


globals()[NAME]()
print("OK")
