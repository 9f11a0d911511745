"""A paho Homie 4 device (MQTT 3.1.1): announces itself as the Homie convention describes
(retained $homie, $name, $nodes, each node's $name/$type/$properties, each property's attributes
and value, then $state=ready, with $state=lost as its will), subscribes to the settable
property's /set topic and, as Homie 4 §Property command topic asks, applies the value and publishes
it back (retained) on the property topic. Prints READY once subscribed, then SET lines.
Usage: homie_device.py HOST PORT DEVICE_ID"""
import sys
import paho.mqtt.client as mqtt

host, port, device = sys.argv[1], int(sys.argv[2]), sys.argv[3]
root = f"homie/{device}"
client = mqtt.Client(client_id=f"homie-{device}", protocol=mqtt.MQTTv311)
client.will_set(f"{root}/$state", "lost", qos=1, retain=True)

ANNOUNCEMENT = [
    ("$homie", "4.0.0"),
    ("$name", "Living room thermostat"),
    ("$state", "init"),
    ("$nodes", "thermostat,light"),
    ("thermostat/$name", "Thermostat"),
    ("thermostat/$type", "thermostat"),
    ("thermostat/$properties", "temperature,target"),
    ("thermostat/temperature/$name", "Temperature"),
    ("thermostat/temperature/$datatype", "float"),
    ("thermostat/temperature/$unit", "°C"),
    ("thermostat/temperature", "21.5"),
    ("thermostat/target/$name", "Target"),
    ("thermostat/target/$datatype", "integer"),
    ("thermostat/target/$settable", "true"),
    ("thermostat/target/$unit", "°C"),
    ("thermostat/target", "20"),
    ("light/$name", "Ceiling light"),
    ("light/$type", "light"),
    ("light/$properties", "on,label"),
    ("light/on/$name", "On"),
    ("light/on/$datatype", "boolean"),
    ("light/on/$settable", "true"),
    ("light/on", "true"),
    ("light/label/$name", "Label"),
    ("light/label/$datatype", "string"),
    ("light/label", "42"),
]


def on_connect(c, userdata, flags, rc):
    for topic, value in ANNOUNCEMENT:
        c.publish(f"{root}/{topic}", value, qos=1, retain=True)
    c.subscribe(f"{root}/+/+/set", qos=1)


def on_subscribe(c, userdata, mid, granted):
    c.publish(f"{root}/$state", "ready", qos=1, retain=True)
    print("READY", flush=True)


def on_message(c, userdata, msg):
    prop = msg.topic[len(root) + 1:-len("/set")]
    value = msg.payload.decode()
    print(f"SET {msg.topic} retain={int(msg.retain)} body={value}", flush=True)
    c.publish(f"{root}/{prop}", value, qos=1, retain=True)


client.on_connect = on_connect
client.on_subscribe = on_subscribe
client.on_message = on_message
client.connect(host, port, keepalive=30)
client.loop_forever()
