"""The upper-case UDP server as the networking course writes it in Python: the peer for bench/udp_echo.py.

Usage: udp_upper_server.py PORT
"""

import socket
import sys

server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    message, client = server.recvfrom(65535)
    try:
        reply = message.decode("utf-8").upper().encode("utf-8")
    except UnicodeDecodeError:
        reply = b"ERROR: datagram is not valid UTF-8"
    server.sendto(reply, client)
