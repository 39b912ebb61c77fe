"""OSC control of the streams (python-osc, optional): a VJ tool (TouchOSC, Resolume, TouchDesigner,
Max) switches a stream's prompt, stops it or sets its input's strength, under the same rules as
the HTTP routes (``requests.py``).

On when the server's environment sets ``STREAMDIT_OSC_PORT`` (a UDP port; ``STREAMDIT_OSC_HOST``,
default 127.0.0.1, where it listens). Messages, their arguments in order:

    /streamdit/prompt   <stream id> <prompt>
    /streamdit/stop     <stream id>
    /streamdit/strength <stream id> <0..1>

Each is answered to its sender: ``/streamdit/ok <address> <stream id>`` or
``/streamdit/error <address> <status> <why>`` (the status an HTTP request would get).
"""
from __future__ import annotations

import asyncio
import importlib.util
import logging
import os

from . import requests
from .requests import Refused

PORT_VARIABLE, HOST_VARIABLE = "STREAMDIT_OSC_PORT", "STREAMDIT_OSC_HOST"
MAX_ANSWER_CHARS = 300       # an error's text in an answer, at most
COMMANDS = {                 # address -> (what it does, its arguments' types after the stream id)
    "/streamdit/prompt": (requests.reprompt, (str,)),
    "/streamdit/stop": (requests.stop, ()),
    "/streamdit/strength": (requests.set_strength, (float,)),
}


def answer(address: str, args: list) -> tuple[str, list]:
    """What a message (``address``, ``args``) does, as the (address, arguments) of its answer."""
    command = COMMANDS.get(address)
    if command is None:
        return "/streamdit/error", [address, 404, f"unknown address; use one of {', '.join(COMMANDS)}"]
    do, types = command
    if len(args) != 1 + len(types) or not isinstance(args[0], str):
        names = " ".join(["<stream id>", *(f"<{t.__name__}>" for t in types)])
        return "/streamdit/error", [address, 400, f"{address} takes {names}"]
    values = []
    for value, kind in zip(args[1:], types):
        if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind):
            return "/streamdit/error", [address, 400, f"{address} takes a {kind.__name__} after the stream id"]
        values.append(value)
    try:
        do(args[0], *values)
    except Refused as refused:
        return "/streamdit/error", [address, refused.status, str(refused)[:MAX_ANSWER_CHARS]]
    return "/streamdit/ok", [address, args[0]]


def available() -> bool:
    return importlib.util.find_spec("pythonosc") is not None


async def start_if_asked() -> asyncio.DatagramTransport | None:
    """Listen for OSC on the running event loop when the environment asks for it; None otherwise
    (or when it cannot: said in the log)."""
    port = os.environ.get(PORT_VARIABLE)
    if not port:
        return None
    if not available():
        logging.warning(f"[StreamDiT] {PORT_VARIABLE} is set but python-osc is not installed "
                        "(pip install python-osc): no OSC control")
        return None
    from pythonosc.osc_message import OscMessage
    from pythonosc.osc_message_builder import OscMessageBuilder
    host = os.environ.get(HOST_VARIABLE, "127.0.0.1")

    class Protocol(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data: bytes, sender) -> None:
            try:
                message = OscMessage(data)
            except Exception:   # noqa: BLE001 - not OSC (or a bundle): ignored, as OSC servers do
                return
            reply, values = answer(message.address, list(message.params))
            built = OscMessageBuilder(reply)
            for value in values:
                built.add_arg(value)
            self.transport.sendto(built.build().dgram, sender)

    try:
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(Protocol, local_addr=(host, int(port)))
    except (OSError, ValueError) as e:
        logging.warning(f"[StreamDiT] OSC control could not listen on {host}:{port}: {e}")
        return None
    logging.info(f"[StreamDiT] OSC control on udp://{host}:{port} (/streamdit/prompt, /streamdit/stop, "
                 "/streamdit/strength)")
    return transport
