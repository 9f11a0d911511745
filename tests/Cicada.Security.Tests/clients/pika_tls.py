"""AMQP 0-9-1 over TLS with pika: open a connection, optionally publish one message to amq.topic.

Prints OPENED, then PUBLISHED; on a refused connection prints REFUSED and exits with 3.
"""
import argparse
import ssl
import sys

import pika

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("cafile")
parser.add_argument("--cert")
parser.add_argument("--key")
parser.add_argument("--external", action="store_true", help="SASL EXTERNAL: the client certificate is the credential")
parser.add_argument("--user", default="guest")
parser.add_argument("--password", default="guest")
parser.add_argument("--publish", nargs=2, metavar=("ROUTING_KEY", "BODY"))
args = parser.parse_args()

context = ssl.create_default_context(cafile=args.cafile)
if args.cert:
    context.load_cert_chain(args.cert, args.key)
credentials = pika.credentials.ExternalCredentials() if args.external else pika.PlainCredentials(args.user, args.password)
parameters = pika.ConnectionParameters(
    host="127.0.0.1", port=args.port, ssl_options=pika.SSLOptions(context, "localhost"),
    credentials=credentials, connection_attempts=1, socket_timeout=10, blocked_connection_timeout=10)

try:
    connection = pika.BlockingConnection(parameters)
    channel = connection.channel()
    channel.confirm_delivery()
except Exception as error:  # every failure to connect is the answer under test
    print("REFUSED", type(error).__name__, error, flush=True)
    sys.exit(3)

print("OPENED", flush=True)
if args.publish:
    channel.basic_publish("amq.topic", args.publish[0], args.publish[1].encode(), pika.BasicProperties(delivery_mode=1))
    print("PUBLISHED", flush=True)
connection.close()
