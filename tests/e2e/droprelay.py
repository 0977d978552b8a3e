#!/usr/bin/env python3
"""droprelay.py - a TCP relay on 127.0.0.1 that loses connections on
request, to put a fault between two messages of one CMP transaction (the
RA's ip received, its certConf lost).

usage: droprelay.py PORT TARGET CONTROL
  PORT     the port on 127.0.0.1 to listen on
  TARGET   the port on 127.0.0.1 each connection is forwarded to
  CONTROL  a file read at each new connection: a number K > 0 forwards
           this one and writes K-1 back; 0 closes it at once unread
           (lost); missing, empty or negative forwards everything.
Each connection is logged on stdout as "pass" or "drop".
"""
import socket
import sys
import threading


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


def decide(control):
    try:
        with open(control) as f:
            k = int(f.read().strip() or "-1")
    except (OSError, ValueError):
        return True
    if k < 0:
        return True
    if k == 0:
        return False
    with open(control, "w") as f:
        f.write(str(k - 1))
    return True


def serve(c, target):
    try:
        u = socket.create_connection(("127.0.0.1", target))
    except OSError:
        c.close()
        return
    t = threading.Thread(target=pipe, args=(u, c), daemon=True)
    t.start()
    pipe(c, u)
    t.join()
    c.close()
    u.close()


def main():
    port, target, control = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(16)
    print("listening", flush=True)
    while True:
        c, _ = s.accept()
        if decide(control):
            print("pass", flush=True)
            threading.Thread(target=serve, args=(c, target),
                             daemon=True).start()
        else:
            print("drop", flush=True)
            c.close()


if __name__ == "__main__":
    main()
