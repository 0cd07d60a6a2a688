# Copyright 2026 the @aio/net authors. MIT license.
"""CPython asyncio's UDP echo for the benchmark (the documentation's echo
server, without the prints), optionally on uvloop. Prints its port.

Usage: python3 asyncio_udp.py [uvloop]
"""
import asyncio
import sys


class EchoServerProtocol(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        self.transport.sendto(data, addr)


async def main():
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        EchoServerProtocol, local_addr=("127.0.0.1", 0))
    print(transport.get_extra_info("sockname")[1], flush=True)
    await loop.create_future()  # serve until killed


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main())
