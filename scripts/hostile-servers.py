#!/usr/bin/env python3
"""Servers that misbehave on purpose, for scripts/cli-failure-test.sh.

    hostile-servers.py MODE HOST PORT [ARGS...]

Modes (each prints "ready" on standard output once it listens, then serves until killed):
  silent                    accepts connections and never reads or writes
  full-backlog              listens with a full accept queue and never accepts: a connect hangs
  close                     accepts and closes at once (a hang-up on the ClientHello)
  http                      answers whatever comes with an HTTP 400, then closes
  mute-hub CERT KEY [CA]    TLS 1.2 server that answers CONNECT with CONNACK 0 and then ignores
                            every packet (no PUBACK, no PINGRESP): an IoT Hub that stopped acking;
                            with CA, it asks for a client certificate issued by it
  cut-after-certificate TARGET_PORT
                            TCP proxy to TARGET_PORT on HOST (a TLS server that asks for a client
                            certificate) that resets the connection as soon as the client's
                            Certificate handshake record arrives, without forwarding it: a server
                            that hangs up on a device certificate it does not accept
  cut-on-signal TARGET_PORT TCP proxy to TARGET_PORT on HOST that resets every connection it
                            carries when it gets SIGUSR1 (and keeps accepting new ones): a
                            network that drops under a connected device
"""
import signal
import socket
import ssl
import struct
import sys
import threading


def listen(host, port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((host, port))
    server.listen(16)
    print("ready", flush=True)
    return server


def serve(server, handle):
    held = []  # `silent` keeps its connections open
    while True:
        client, _ = server.accept()
        held.append(client)
        threading.Thread(target=handle, args=(client,), daemon=True).start()


def reset(sock):
    """Closes with RST rather than FIN."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        sock.close()


def read_exactly(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def mute_hub(cert, key, client_ca=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)

    def handle(client):
        try:
            tls = context.wrap_socket(client, server_side=True)
            first = tls.recv(4096)
            if first and first[0] >> 4 == 1:  # CONNECT
                tls.sendall(b"\x20\x02\x00\x00")
            while tls.recv(4096):
                pass
        except (OSError, ssl.SSLError):
            pass

    return handle


def cut_after_certificate(host, target_port):
    def handle(client):
        upstream = socket.create_connection((host, target_port))

        def to_client():
            try:
                while True:
                    data = upstream.recv(65536)
                    if not data:
                        break
                    client.sendall(data)
            except OSError:
                pass

        threading.Thread(target=to_client, daemon=True).start()
        try:
            while True:
                header = read_exactly(client, 5)
                if header is None:
                    break
                body = read_exactly(client, struct.unpack(">H", header[3:5])[0])
                if body is None:
                    break
                # A plaintext handshake record whose first message is Certificate (11).
                if header[0] == 22 and body and body[0] == 11:
                    reset(client)
                    reset(upstream)
                    return
                upstream.sendall(header + body)
        except OSError:
            pass
        client.close()
        upstream.close()

    return handle


def cut_on_signal(host, target_port):
    live = []
    lock = threading.Lock()

    def cut(signum, frame):
        with lock:
            for sock in live:
                # shutdown wakes the pump blocked in recv on it (close alone would not, and the
                # connection would live on); then it closes with RST.
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                try:
                    reset(sock)
                except OSError:
                    pass
            live.clear()
        print("cut", flush=True)

    signal.signal(signal.SIGUSR1, cut)

    def pump(source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            try:
                sock.close()
            except OSError:
                pass

    def handle(client):
        upstream = socket.create_connection((host, target_port))
        with lock:
            live.extend([client, upstream])
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    return handle


def main():
    mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rest = sys.argv[4:]
    if mode == "full-backlog":
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind((host, port))
        server.listen(0)
        fillers = []
        for _ in range(3):  # what the queue holds; later SYNs are dropped
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            try:
                filler.connect((host, port))
            except BlockingIOError:
                pass
            fillers.append(filler)
        print("ready", flush=True)
        threading.Event().wait()
    if mode == "silent":
        handle = lambda client: None
    elif mode == "close":
        handle = lambda client: client.close()
    elif mode == "http":
        def handle(client):
            client.recv(4096)
            client.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            client.close()
    elif mode == "mute-hub":
        handle = mute_hub(*rest[:3])
    elif mode == "cut-on-signal":
        handle = cut_on_signal(host, int(rest[0]))
    elif mode == "cut-after-certificate":
        handle = cut_after_certificate(host, int(rest[0]))
    else:
        sys.exit(f"unknown mode {mode}")
    serve(listen(host, port), handle)


if __name__ == "__main__":
    main()
