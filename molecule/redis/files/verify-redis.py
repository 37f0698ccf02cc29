#!/usr/bin/env python3
"""Redis client for molecule/redis verify: RESP over a plain socket (no redis package in
the lab image), TCP keepalives with the matrixha numbers (5 s idle, 1 s x 3), the
password read from a file (never on a command line). Every loop ends at a deadline.

  verify-redis [--user U --password-file F] cmd HOST PORT ARG...      one command, reply printed
  verify-redis [...] writer HOST PORT SECONDS LOG                     SET every 100 ms on a new connection
  verify-redis [...] subscriber HOST PORT CHANNEL SECONDS LOG         SUBSCRIBE, resubscribe when lost
  verify-redis [...] publish-until HOST PORT CHANNEL LOG TIMEOUT      PUBLISH until LOG shows the message
  verify-redis recovery LOG SINCE [WORD]                              seconds from SINCE to the first WORD line
  verify-redis last LOG SINCE [WORD]                                  seconds from SINCE to the last WORD line
  verify-redis longest-gap LOG SINCE                                  longest time between two OK lines after SINCE
  verify-redis haproxy-stat SOCKET                                    "server status check" lines
"""
import argparse
import os
import socket
import sys
import time


class RedisError(Exception):
    pass


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("server closed the connection")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [read_reply(f) for _ in range(n)]
    raise ConnectionError(f"bad reply {line!r}")


def connect(opts, host, port, timeout=1.0):
    s = socket.create_connection((host, int(port)), timeout=timeout)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 3)
    f = s.makefile("rb")
    if opts.password_file:
        with open(opts.password_file, encoding="utf-8") as pf:
            password = pf.read().strip()
        s.sendall(encode("AUTH", opts.user, password) if opts.user else encode("AUTH", password))
        read_reply(f)
    return s, f


def command(opts, host, port, *args, timeout=1.0):
    s, f = connect(opts, host, port, timeout)
    try:
        s.sendall(encode(*args))
        return read_reply(f)
    finally:
        s.close()


def show(reply):
    if isinstance(reply, list):
        for r in reply:
            show(r)
    else:
        print("(nil)" if reply is None else reply)


def log(path, text):
    with open(path, "a", encoding="utf-8") as out:
        out.write(f"{time.time():.3f} {text}\n")


def writer(opts, host, port, seconds, path):
    end = time.time() + float(seconds)
    n = 0
    while time.time() < end:
        n += 1
        try:
            r = command(opts, host, port, "SET", "verify:writer", n)
            log(path, "OK" if r == "OK" else f"ERR {r}")
        except (OSError, RedisError, ConnectionError) as e:
            log(path, f"ERR {type(e).__name__}: {e}")
        time.sleep(0.1)


def subscriber(opts, host, port, channel, seconds, path):
    end = time.time() + float(seconds)
    while time.time() < end:
        try:
            s, f = connect(opts, host, port)
            s.sendall(encode("SUBSCRIBE", channel))
            read_reply(f)
            log(path, "subscribed")
            s.settimeout(max(0.1, end - time.time()))
            while time.time() < end:
                msg = read_reply(f)
                if isinstance(msg, list) and msg[0] == "message":
                    log(path, f"message {msg[2]}")
            s.close()
        except (OSError, RedisError, ConnectionError) as e:
            if time.time() >= end:
                break
            log(path, f"lost {type(e).__name__}: {e}")
            time.sleep(0.2)


def publish_until(opts, host, port, channel, path, timeout):
    start = time.time()
    payload = f"after-{start:.3f}"
    while time.time() - start < float(timeout):
        try:
            command(opts, host, port, "PUBLISH", channel, payload)
        except (OSError, RedisError, ConnectionError):
            pass
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.split()[1:] == ["message", payload]:
                    print(f"{float(line.split()[0]) - start:.2f} {payload} {line.split()[0]}")
                    return 0
        time.sleep(0.5)
    print(f"no subscriber received {payload} within {timeout} s", file=sys.stderr)
    return 1


def recovery(path, since, word="OK"):
    """Seconds from SINCE to the first LOG line starting with WORD, and from the last one before."""
    since = float(since)
    last = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            t, status = line.rstrip("\n").split(" ", 1)
            t = float(t)
            if t < since:
                last = t if status.startswith(word) else last
            elif status.startswith(word):
                print(f"{t - since:.2f} {since - last if last else -1:.2f}")
                return 0
    print(f"no {word!r} line after {since} yet", file=sys.stderr)
    return 1


def last(path, since, word="OK"):
    """Seconds from SINCE to the last LOG line starting with WORD (-1: none after SINCE)."""
    since = float(since)
    found = -1.0
    with open(path, encoding="utf-8") as f:
        for line in f:
            t, status = line.rstrip("\n").split(" ", 1)
            if float(t) >= since and status.startswith(word):
                found = float(t) - since
    print(f"{found:.2f}")
    return 0


def longest_gap(path, since):
    """The longest run of failed writes after SINCE: seconds between the OKs around it."""
    since = float(since)
    prev_ok, gap = since, 0.0
    with open(path, encoding="utf-8") as f:
        for line in f:
            t, status = line.rstrip("\n").split(" ", 1)
            t = float(t)
            if t >= since and status.startswith("OK"):
                gap = max(gap, t - prev_ok)
                prev_ok = t
    print(f"{gap:.2f}")
    return 0


def haproxy_stat(sock):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(sock)
    s.sendall(b"show stat\n")
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    for row in data.decode().splitlines():
        col = row.split(",")
        if len(col) > 36 and col[1] not in ("FRONTEND", "BACKEND", "svname"):
            print(col[0], col[1], col[17], col[36])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--user")
    p.add_argument("--password-file")
    p.add_argument("mode")
    p.add_argument("args", nargs="*")
    o = p.parse_args()
    a = o.args
    if o.mode == "cmd":
        try:
            show(command(o, a[0], a[1], *a[2:], timeout=2.0))
        except RedisError as e:
            print(f"(error) {e}")
            return 1
        return 0
    if o.mode == "writer":
        return writer(o, *a) or 0
    if o.mode == "subscriber":
        return subscriber(o, *a) or 0
    if o.mode == "publish-until":
        return publish_until(o, *a)
    if o.mode == "recovery":
        return recovery(*a)
    if o.mode == "last":
        return last(*a)
    if o.mode == "longest-gap":
        return longest_gap(*a)
    if o.mode == "haproxy-stat":
        return haproxy_stat(*a) or 0
    p.error(f"unknown mode {o.mode}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
