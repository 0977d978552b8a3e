#!/usr/bin/env python3
"""nsrelay.py - reach a test server that cannot be told to listen on the
loopback address only (OpenSSL 3.0's `openssl cmp -port` binds every
address): the server runs in its own network namespace (unshare -n),
where nothing but that namespace's loopback exists, and this relay
listens on 127.0.0.1:PORT here and forwards each connection to
127.0.0.1:TARGET inside the server's namespace (setns(2) after the
listening socket exists: new sockets belong to the namespace current when
they are made).

usage: nsrelay.py PORT PID TARGET
  PORT    the port on 127.0.0.1 to listen on (in this namespace)
  PID     a process in the server's network namespace
  TARGET  the server's port there
"""
import ctypes
import os
import socket
import sys
import threading

CLONE_NEWNET = 0x40000000


def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass


def serve(conn, target):
    try:
        up = socket.create_connection(("127.0.0.1", target), timeout=30)
    except OSError:
        conn.close()
        return
    t = threading.Thread(target=pipe, args=(up, conn), daemon=True)
    t.start()
    pipe(conn, up)
    t.join(30)
    up.close()
    conn.close()


def main():
    port, pid, target = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    fd = os.open("/proc/%d/ns/net" % pid, os.O_RDONLY)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        sys.exit("setns: %s" % os.strerror(ctypes.get_errno()))
    os.close(fd)
    while True:
        conn, _ = ls.accept()
        threading.Thread(target=serve, args=(conn, target),
                         daemon=True).start()


if __name__ == "__main__":
    main()
