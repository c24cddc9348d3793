#!/usr/bin/python3
"""Real server for the two-director test bed: one process, no threads.

    server.py NAME [ECHO_PORT [HTTP_PORT]]      (defaults 9000 and 80)

ECHO_PORT echoes every byte back.  HTTP_PORT answers every request on a
keep-alive HTTP/1.1 connection with `server=NAME client=IP:PORT n=N`.
Under TCG one process with a selector costs far less than a process per
connection (busybox nc -e cat forks two per connection).
"""
import selectors
import socket
import sys

NAME = sys.argv[1]
ECHO_PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 9000
HTTP_PORT = int(sys.argv[3]) if len(sys.argv) > 3 else 80

sel = selectors.DefaultSelector()


def listen(port, kind):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(512)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, ("listen", kind))


class Conn:
    def __init__(self, sock, kind, peer):
        self.sock, self.kind, self.peer = sock, kind, peer
        self.buf = b""
        self.served = 0


def close(c):
    sel.unregister(c.sock)
    c.sock.close()


def on_data(c, data):
    if c.kind == "echo":
        c.sock.sendall(data)  # small lines; the socket buffer never fills here
        return
    c.buf += data
    while b"\r\n\r\n" in c.buf:
        head, c.buf = c.buf.split(b"\r\n\r\n", 1)
        c.served += 1
        body = ("server=%s client=%s:%d n=%d\n" % (NAME, c.peer[0], c.peer[1], c.served)).encode()
        close_after = b"connection: close" in head.lower()
        c.sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n%s\r\n"
            % (len(body), b"Connection: close\r\n" if close_after else b"")
            + body
        )
        if close_after:
            close(c)
            return


def main():
    listen(ECHO_PORT, "echo")
    listen(HTTP_PORT, "http")
    print("server %s: echo on :%d, http on :%d" % (NAME, ECHO_PORT, HTTP_PORT), flush=True)
    while True:
        for key, _ in sel.select():
            if key.data[0] == "listen":
                try:
                    s, peer = key.fileobj.accept()
                except OSError:
                    continue
                s.setblocking(True)
                s.settimeout(2)
                sel.register(s, selectors.EVENT_READ, ("conn", Conn(s, key.data[1], peer)))
                continue
            c = key.data[1]
            try:
                data = c.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                close(c)
                continue
            try:
                on_data(c, data)
            except OSError:
                close(c)


if __name__ == "__main__":
    main()
