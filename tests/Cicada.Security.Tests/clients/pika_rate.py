"""Limits:MaxPublishesPerSecond at the AMQP edge, driven by pika (Debian python3-pika):
pika_rate.py AMQP_PORT BURST.

The broker allows BURST publishes at once and 1 a second after that (RateLimitTests.cs). Publishing
in confirm mode makes each basic.publish wait for its ack, so the channel error arrives at the
publish that went over the limit. Prints OK at the end; a failed assertion exits non-zero.
"""
import sys

import pika
from pika.exceptions import ChannelClosedByBroker

AMQP_PORT, BURST = int(sys.argv[1]), int(sys.argv[2])

connection = pika.BlockingConnection(pika.ConnectionParameters(
    host="127.0.0.1", port=AMQP_PORT, connection_attempts=1, blocked_connection_timeout=10,
    credentials=pika.PlainCredentials("guest", "guest")))
channel = connection.channel()
channel.confirm_delivery()

accepted, refused = 0, None
for i in range(200):
    try:
        channel.basic_publish("amq.topic", "rate.amqp", b"m%d" % i)
        accepted += 1
    except ChannelClosedByBroker as e:
        refused = e
        break

assert refused is not None, f"all {accepted} publishes were accepted"
# The burst goes through (a token may have been refilled meanwhile, never 200 of them).
assert BURST <= accepted < 200, f"{accepted} publishes accepted before the refusal, burst {BURST}"
# AMQP 0-9-1 §1.2: precondition-failed (406) is a soft error: only the channel closes.
assert refused.reply_code == 406, f"expected 406, got {refused.reply_code} {refused.reply_text}"
assert refused.reply_text.startswith("PRECONDITION_FAILED"), refused.reply_text
assert "MaxPublishesPerSecond" in refused.reply_text, refused.reply_text
assert not channel.is_open

# The connection lives on: a new channel works (queue.declare is no publish).
assert connection.is_open
other = connection.channel()
other.queue_declare("", exclusive=True)
connection.close()
print("OK")
