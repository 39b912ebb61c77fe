"""A websocket client to the pack's live socket ``/streamdit/ws`` on a raw socket (the tests and
benchmarks send exactly the bytes they mean, bad ones included)."""
from __future__ import annotations

import base64
import json
import os
import socket

import numpy as np


def websocket(server, origin: str | None = None, timeout: float = 10.0, reads: bool = False):
    """A raw websocket to ``server``'s (a ComfyServer) /streamdit/ws: returns (HTTP status, socket).
    The server's hello is read; not echoed, such a socket is sent statuses, never frames;
    ``reads``: echoed, so frames come (the caller acknowledges them, ``{"ack": n}``)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET /streamdit/ws HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if origin:
        lines.append(f"Origin: {origin}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    status = int(head.split()[1])
    if status == 101:
        opcode, hello = receive(sock)
        assert opcode == 1 and b'"hello"' in hello, hello
        if reads:
            send_text(sock, json.dumps({"hello": json.loads(hello)["token"]}).encode())
    return status, sock


def send_text(sock, payload: bytes, opcode: int = 1) -> None:
    """One masked text frame (client to server); ``opcode`` 2: a binary one."""
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
                                       if n < 65536 else bytes([0x80 | 127]) + n.to_bytes(8, "big"))
    masked = (np.frombuffer(payload, np.uint8) ^ np.resize(np.frombuffer(mask, np.uint8), n)).tobytes()
    sock.sendall(header + mask + masked)


def receive(sock) -> tuple[int, bytes]:
    """One frame from the server: (opcode, payload)."""
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("closed")
            data += chunk
        return data
    first, second = exactly(2)
    n = second & 0x7F
    if n == 126:
        n = int.from_bytes(exactly(2), "big")
    elif n == 127:
        n = int.from_bytes(exactly(8), "big")
    return first & 0x0F, exactly(n)
