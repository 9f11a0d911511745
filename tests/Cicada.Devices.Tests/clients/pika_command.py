"""An AMQP client sending a device command through amq.topic with reply_to/correlation_id and
waiting for the reply on a queue bound to the reply topic. Usage: pika_command.py HOST PORT DEVICE"""
import sys
import uuid
import pika

host, port, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
conn = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=port, heartbeat=0))
ch = conn.channel()
reply_topic = f"replies/{uuid.uuid4().hex}"
queue = ch.queue_declare(queue="", exclusive=True).method.queue
# amq.topic routing keys are topics with '.' for '/' (DESIGN.md mapping).
ch.queue_bind(queue=queue, exchange="amq.topic", routing_key=reply_topic.replace("/", "."))
correlation = uuid.uuid4().hex
ch.basic_publish(exchange="amq.topic", routing_key=f"devices.{device}.commands.toggle", body=b"from-amqp",
                 properties=pika.BasicProperties(reply_to=reply_topic, correlation_id=correlation, delivery_mode=2))
for method, props, body in ch.consume(queue, inactivity_timeout=10):
    if method is None:
        print("TIMEOUT", flush=True)
        sys.exit(1)
    print(f"REPLY correlation_ok={props.correlation_id == correlation} body={body.decode()}", flush=True)
    break
conn.close()
