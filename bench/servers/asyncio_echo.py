# Copyright 2026 the @aio/net authors. MIT license.
"""CPython asyncio echo servers for the benchmark: protocol or streams, optionally on uvloop, optionally over TLS.

Usage: python3 asyncio_echo.py protocol|streams [uvloop] [--tls CERT KEY]
"""
import asyncio
import socket
import ssl
import sys


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.transport.write(data)


async def handle(reader, writer):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()


async def main(kind, context):
    loop = asyncio.get_running_loop()
    if kind == "protocol":
        server = await loop.create_server(Echo, "127.0.0.1", 0, ssl=context)
    else:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    context = None
    if "--tls" in args:
        at = args.index("--tls")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args[at + 1], args[at + 2])
        del args[at:at + 3]
    if len(args) > 1 and args[1] == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(args[0], context))
