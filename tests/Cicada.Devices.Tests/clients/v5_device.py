"""A paho MQTT 5 device: subscribes to its command topics and answers each command on the
request's Response Topic with the same Correlation Data (MQTT 5 §4.10). Prints READY once
subscribed, then one line per command. Usage: v5_device.py HOST PORT CLIENT_ID COMMAND_FILTER"""
import sys
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes

host, port, client_id, command_filter = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
client = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5)


def on_connect(c, userdata, flags, rc, properties=None):
    c.subscribe(command_filter, qos=1)


def on_subscribe(c, userdata, mid, granted, properties=None):
    print("READY", flush=True)


def on_message(c, userdata, msg):
    props = getattr(msg, "properties", None)
    response = getattr(props, "ResponseTopic", None) if props else None
    correlation = getattr(props, "CorrelationData", None) if props else None
    print(f"COMMAND {msg.topic} qos={msg.qos} response={response} correlation={correlation.decode() if correlation else None} body={msg.payload.decode()}", flush=True)
    if response:
        reply = Properties(PacketTypes.PUBLISH)
        if correlation:
            reply.CorrelationData = correlation
        reply.ContentType = "text/plain"
        c.publish(response, b"done:" + msg.payload, qos=1, properties=reply)


client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(host, port, keepalive=30)
client.loop_forever()
