#!/usr/bin/python3
"""Regenerates the seed corpus from real client traffic (not run by the tests; the .bin files are
checked in). A recording proxy sits between real clients (mosquitto_pub/sub, paho, pika,
coap-client) and a real broker (mosquitto for MQTT, a built cicada for AMQP and CoAP) and stores
every packet the clients sent, one file each, split at packet boundaries.

Usage: /usr/bin/python3 capture.py PATH/TO/Cicada.Server.dll [mqtt|amqp|coap ...]
"""
import os, socket, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port(kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TcpRecorder:
    """Forwards connections to upstream, keeping what each client sent."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.port = free_port()
        self.streams = []
        self.lock = threading.Lock()
        self.server = socket.socket()
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind(("127.0.0.1", self.port))
        self.server.listen(50)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            client, _ = self.server.accept()
            up = socket.create_connection(("127.0.0.1", self.upstream))
            record = bytearray()
            with self.lock:
                self.streams.append(record)
            threading.Thread(target=self.pump, args=(client, up, record), daemon=True).start()
            threading.Thread(target=self.pump, args=(up, client, None), daemon=True).start()

    @staticmethod
    def pump(src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record is not None:
                    record.extend(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port} never opened")


def write(folder, name, data):
    os.makedirs(os.path.join(HERE, folder), exist_ok=True)
    with open(os.path.join(HERE, folder, name), "wb") as f:
        f.write(bytes(data))


MQTT_TYPES = {1: "connect", 3: "publish", 4: "puback", 5: "pubrec", 6: "pubrel", 7: "pubcomp", 8: "subscribe",
              10: "unsubscribe", 12: "pingreq", 14: "disconnect", 15: "auth"}


def split_mqtt(stream):
    i, packets = 0, []
    while i + 2 <= len(stream):
        mult, length, j = 1, 0, i + 1
        while True:
            b = stream[j]
            length += (b & 0x7F) * mult
            mult *= 128
            j += 1
            if b & 0x80 == 0:
                break
        packets.append(stream[i:j + length])
        i = j + length
    return packets


def capture_mqtt():
    port = free_port()
    conf = tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False)
    conf.write(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
    conf.close()
    broker = subprocess.Popen(["mosquitto", "-c", conf.name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        rec = TcpRecorder(port)
        p = str(rec.port)
        pub = ["mosquitto_pub", "-h", "127.0.0.1", "-p", p]
        sub = ["mosquitto_sub", "-h", "127.0.0.1", "-p", p, "-W", "2", "-C", "1"]
        runs = [
            pub + ["-V", "311", "-t", "seed/a", "-m", "hello", "-q", "0"],
            pub + ["-V", "311", "-t", "seed/b/c", "-m", "x" * 300, "-q", "1", "-r"],
            pub + ["-V", "311", "-t", "seed/q2", "-m", "two", "-q", "2", "-u", "user", "-P", "secret",
                   "--will-topic", "seed/will", "--will-payload", "gone", "--will-qos", "1", "--will-retain"],
            pub + ["-V", "31", "-t", "seed/v31", "-m", "old", "-q", "1", "-i", "legacy-client"],
            pub + ["-V", "5", "-t", "seed/v5", "-m", "{\"t\":21.5}", "-q", "1",
                   "-D", "publish", "user-property", "k", "v", "-D", "publish", "content-type", "application/json",
                   "-D", "publish", "message-expiry-interval", "60", "-D", "publish", "response-topic", "seed/resp",
                   "-D", "publish", "correlation-data", "abc", "-D", "publish", "payload-format-indicator", "1",
                   "-D", "connect", "session-expiry-interval", "30", "-D", "connect", "receive-maximum", "10",
                   "-D", "connect", "maximum-packet-size", "65536", "-D", "connect", "user-property", "a", "b"],
            pub + ["-V", "5", "-t", "seed/v5q2", "-m", "two", "-q", "2", "-D", "publish", "topic-alias", "1",
                   "--will-topic", "seed/will5", "--will-payload", "bye", "-D", "will", "will-delay-interval", "5",
                   "-D", "will", "content-type", "text/plain", "-D", "connect", "topic-alias-maximum", "5",
                   "-D", "connect", "request-problem-information", "0", "-D", "connect", "request-response-information", "1"],
            sub + ["-V", "311", "-t", "seed/a", "-t", "seed/+/c", "-t", "seed/#", "-q", "2", "-E"],
            sub + ["-V", "5", "-t", "seed/x", "-t", "$share/g/seed/y", "-q", "1", "-E",
                   "-D", "subscribe", "subscription-identifier", "42", "-D", "subscribe", "user-property", "s", "t"],
            sub + ["-V", "5", "-t", "seed/nl", "--retain-as-published", "-E", "-D", "disconnect", "reason-string", "done"],
        ]
        for run in runs:
            subprocess.run(run, timeout=15, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # paho for UNSUBSCRIBE, PINGREQ and v5 subscription options mosquitto_sub cannot send.
        code = f"""
import paho.mqtt.client as mqtt, time
from paho.mqtt.subscribeoptions import SubscribeOptions
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
for version in (mqtt.MQTTv311, mqtt.MQTTv5):
    c = mqtt.Client(client_id="seed-paho-%d" % version, protocol=version)
    c.connect("127.0.0.1", {p}, keepalive=1)
    c.loop_start(); time.sleep(0.3)
    if version == mqtt.MQTTv5:
        c.subscribe([("seed/opt", SubscribeOptions(qos=2, noLocal=True, retainAsPublished=True, retainHandling=2))])
        props = Properties(PacketTypes.UNSUBSCRIBE); props.UserProperty = ("u", "v")
        time.sleep(0.3); c.unsubscribe("seed/opt", properties=props)
    else:
        c.subscribe([("seed/p1", 1), ("seed/p2", 0)]); time.sleep(0.3); c.unsubscribe(["seed/p1", "seed/p2"])
    time.sleep(1.6); c.disconnect(); c.loop_stop()
"""
        subprocess.run(["/usr/bin/python3", "-c", code], timeout=30)
        time.sleep(0.5)
    finally:
        broker.terminate()
        broker.wait()
        os.unlink(conf.name)

    counters = {}
    for stream in rec.streams:
        packets = split_mqtt(stream)
        if not packets or packets[0][0] >> 4 != 1:
            continue
        # protocol level: after fixed header, 2-byte name length, name
        c = packets[0]
        j = 1
        while c[j] & 0x80:
            j += 1
        j += 1
        name_len = c[j] << 8 | c[j + 1]
        level = c[j + 2 + name_len]
        folder = "mqtt5" if level == 5 else "mqtt311"
        for packet in packets:
            kind = MQTT_TYPES.get(packet[0] >> 4, "other")
            n = counters.get(folder, 0)
            counters[folder] = n + 1
            write(folder, f"{n:03d}-{kind}-v{level}.bin", packet)
    print("mqtt", counters)


def split_amqp(stream):
    frames = []
    i = 8 if stream[:4] == b"AMQP" else 0
    while i + 7 <= len(stream):
        size = int.from_bytes(stream[i + 3:i + 7], "big")
        frames.append(stream[i:i + 8 + size])
        i += 8 + size
    return frames


def start_cicada(dll, args):
    data = tempfile.mkdtemp()
    return subprocess.Popen(["dotnet", dll, "--mqtt", "off", "--http", "off", "--storage", "memory", "--data", data] + args,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def capture_amqp(dll):
    port = free_port()
    server = start_cicada(dll, ["--coap", "off", "--amqp", f"127.0.0.1:{port}"])
    try:
        wait_port(port, 60)
        rec = TcpRecorder(port)
        code = f"""
import pika, datetime, decimal
params = pika.ConnectionParameters("127.0.0.1", {rec.port}, client_properties={{"product": "seed", "nested": {{"n": 1, "list": [1, "two", -3]}}}})
c = pika.BlockingConnection(params)
ch = c.channel()
ch.confirm_delivery()
ch.exchange_declare("seed.x", "topic", durable=True, arguments={{"alternate-exchange": "amq.topic"}})
q = ch.queue_declare("seed.q", durable=True, arguments={{"x-message-ttl": 60000, "x-max-length": 10, "flag": True,
    "when": datetime.datetime(2024, 1, 2, 3, 4, 5), "price": decimal.Decimal("12.34"), "bytes": b"raw"}})
ch.queue_bind("seed.q", "amq.topic", "seed.#", arguments={{"x-match": "any"}})
props = pika.BasicProperties(content_type="application/json", content_encoding="utf-8", delivery_mode=2, priority=3,
    correlation_id="c-1", reply_to="seed.reply", expiration="60000", message_id="m-1", timestamp=1700000000,
    type="reading", user_id="guest", app_id="seed-app", headers={{"h": 1, "neg": -5, "t": [True, None]}})
ch.basic_publish("amq.topic", "seed.a.b", b"x" * 200, props)
ch.basic_publish("amq.topic", "seed.big", b"y" * 140000)
ch.basic_qos(prefetch_count=5)
m = ch.basic_get("seed.q")
if m[0]: ch.basic_ack(m[0].delivery_tag)
tag = ch.basic_consume("seed.q", lambda *a: None, auto_ack=False, exclusive=False, arguments={{"x-priority": 1}})
c.process_data_events(0.3)
ch.basic_cancel(tag)
ch.queue_unbind("seed.q", "amq.topic", "seed.#")
ch.queue_purge("seed.q")
ch.queue_delete("seed.q")
ch.exchange_delete("seed.x")
ch.close()
c.close()
"""
        subprocess.run(["/usr/bin/python3", "-c", code], timeout=60)
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait()
    n = 0
    for stream in rec.streams:
        if stream[:4] == b"AMQP":
            write("amqp", f"{n:03d}-protocol-header.bin", stream[:8])
            n += 1
        for frame in split_amqp(stream):
            kind = {1: "method", 2: "header", 3: "body", 8: "heartbeat"}.get(frame[0], "other")
            if kind == "method":
                kind += "-%d-%d" % (int.from_bytes(frame[7:9], "big"), int.from_bytes(frame[9:11], "big"))
            write("amqp", f"{n:03d}-{kind}.bin", frame)
            n += 1
    print("amqp", n)


def capture_coap(dll):
    port = free_port(socket.SOCK_DGRAM)
    server = start_cicada(dll, ["--amqp", "off", "--coap", f"127.0.0.1:{port}"])
    proxy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    proxy.bind(("127.0.0.1", 0))
    pport = proxy.getsockname()[1]
    up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    up.connect(("127.0.0.1", port))
    datagrams, client = [], [None]

    def forward():
        while True:
            data, addr = proxy.recvfrom(70000)
            client[0] = addr
            datagrams.append(data)
            up.send(data)

    def back():
        while True:
            data = up.recv(70000)
            if client[0]:
                proxy.sendto(data, client[0])

    threading.Thread(target=forward, daemon=True).start()
    threading.Thread(target=back, daemon=True).start()
    time.sleep(3)
    try:
        base = f"coap://127.0.0.1:{pport}"
        big = "z" * 700
        runs = [
            ["-m", "put", "-e", "21.5", f"{base}/ps/seed/temp"],
            ["-m", "post", "-t", "application/json", "-e", "{\"v\":1}", f"{base}/ps/seed/json?qos=1&retain=1"],
            ["-m", "get", f"{base}/ps/seed/temp"],
            ["-m", "get", "-s", "2", f"{base}/ps/seed/temp"],
            ["-m", "get", f"{base}/.well-known/core"],
            ["-m", "put", "-b", "64", "-e", big, f"{base}/ps/seed/block"],
            ["-m", "get", "-b", "32", f"{base}/ps/seed/block"],
            ["-m", "delete", f"{base}/ps/seed/temp"],
            ["-m", "put", "-N", "-T", "cafe", "-e", "n", f"{base}/ps/seed/non"],
        ]
        for run in runs:
            subprocess.run(["coap-client-notls", "-B", "3"] + run, timeout=15, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait()
    for n, d in enumerate(datagrams):
        write("coap", f"{n:03d}-code-{d[1] >> 5}.{d[1] & 31:02d}.bin", d)
    print("coap", len(datagrams))


if __name__ == "__main__":
    dll = sys.argv[1]
    only = sys.argv[2:] or ["mqtt", "amqp", "coap"]
    if "mqtt" in only:
        capture_mqtt()
    if "amqp" in only:
        capture_amqp(dll)
    if "coap" in only:
        capture_coap(dll)
