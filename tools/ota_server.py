#!/usr/bin/env python3
"""A loopback HTTP server for OTA tests and benchmarks that misbehaves on request.

    ota_server.py DIR [--port 0] [--truncate N] [--corrupt OFFSET] [--stall-at N]
                  [--stall-seconds S] [--drop-at N] [--chunked] [--chunk-size N]
                  [--redirect K] [--no-length] [--rate B] [--https CERT --key KEY]

Serves the files under DIR (GET /<path>) on 127.0.0.1 only. Every option is also a query
parameter of one request, which overrides the command line for that request:

    truncate=N      send only the first N bytes (Content-Length says N: the framing is fine)
    corrupt=OFFSET  flip the lowest bit of the byte at OFFSET (negative: from the end)
    stall=N         after N body bytes send nothing more for `stall_s` seconds (default 30)
    drop=N          close the connection after N body bytes (Content-Length says the full size)
    chunked=1       Transfer-Encoding: chunked, chunks of `chunk` bytes (default 1000)
    redirect=K      answer 302 K times (/_r/K-1/..., relative and absolute Location) first
    to=URL          answer 302 with Location: URL (another server, another scheme)
    auth=B64        answer 401 unless the request has the HTTP Basic authorization B64
                    (base64 of USER:PASSWORD, so that the URL does not spell the password)
    nolength=1      no Content-Length: the body ends when the connection closes
    rate=B          pace the body at B bytes per second (a WiFi-like link instead of memory speed)

With --https CERT --key KEY (PEM files: the server's certificate, chain included, and its
key) it speaks HTTPS only; the TLS handshake runs in the request's own thread, so a client
that stalls it (or refuses the certificate) holds up nobody else.

Prints "ota_server: http(s)://127.0.0.1:PORT/ serving DIR" once it listens. Ctrl-C stops it.
"""

import argparse
import http.server
import socket
import ssl
import sys
import time
import urllib.parse
from pathlib import Path

SEND = 64 * 1024
OPTIONS = (
    "truncate",
    "corrupt",
    "stall",
    "stall_s",
    "drop",
    "chunked",
    "chunk",
    "redirect",
    "nolength",
    "rate",
)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ota_server"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("ota_server: %s\n" % (fmt % args))

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        opts = dict(self.server.defaults)
        for key, value in urllib.parse.parse_qsl(url.query):
            opts[key] = value
        path = url.path
        if path.startswith("/_r/"):  # a hop of a redirect chain: /_r/<hops left>/<path>
            hops, _, rest = path[4:].partition("/")
            opts["redirect"] = int(hops)
            path = "/" + rest
        if opts.get("auth"):
            if self.headers.get("Authorization") != "Basic " + opts["auth"]:
                self.send_error(401, "wrong or no Basic authorization")
                return
        if opts.get("to"):
            self.send_redirect(opts["to"])
            return
        hops = int(opts.get("redirect") or 0)
        if hops:
            query = urllib.parse.urlencode(
                {k: v for k, v in opts.items() if k in OPTIONS and k != "redirect" and v}
            )
            target = "/_r/%d%s%s" % (hops - 1, path, "?" + query if query else "")
            if hops % 2:  # alternate absolute and relative Location headers
                target = "%s://127.0.0.1:%d%s" % (
                    self.server.scheme,
                    self.server.server_port,
                    target,
                )
            self.send_redirect(target)
            return
        name = urllib.parse.unquote(path.lstrip("/"))
        file = (self.server.root / name).resolve()
        if not file.is_file() or not file.is_relative_to(self.server.root):
            self.send_error(404, "no file %s" % name)
            return
        data = bytearray(file.read_bytes())
        if opts.get("truncate") is not None:
            del data[int(opts["truncate"]) :]
        if opts.get("corrupt") is not None:
            at = int(opts["corrupt"])
            if not -len(data) <= at < len(data):
                self.send_error(
                    416, "corrupt=%d is outside the %d bytes of %s" % (at, len(data), name)
                )
                return
            data[at] ^= 0x01
        chunked = bool(int(opts.get("chunked") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif not int(opts.get("nolength") or 0):
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        drop = int(opts["drop"]) if opts.get("drop") is not None else None
        stall = int(opts["stall"]) if opts.get("stall") is not None else None
        self.send_body(
            memoryview(data), chunked, int(opts.get("chunk") or 1000), drop, stall, opts
        )

    def send_redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    def send_body(self, data, chunked, chunk, drop, stall, opts):
        limit = len(data) if drop is None else min(drop, len(data))
        pos = 0
        rate = float(opts.get("rate") or 0)
        step = chunk if chunked else (4096 if rate else SEND)
        start = time.monotonic()
        try:
            while pos < limit:
                if rate:
                    ahead = pos / rate - (time.monotonic() - start)
                    if ahead > 0:
                        time.sleep(ahead)
                n = min(step, limit - pos)
                if stall is not None and pos <= stall < pos + n:
                    n = stall - pos
                    self.write(data[pos : pos + n], chunked)
                    pos += n
                    self.wfile.flush()
                    time.sleep(float(opts.get("stall_s") or 30))
                    stall = None
                    continue
                self.write(data[pos : pos + n], chunked)
                pos += n
            if drop is not None and drop < len(data):
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def write(self, view, chunked):
        if not view:
            return
        if chunked:
            self.wfile.write(b"%x\r\n" % len(view))
            self.wfile.write(view)
            self.wfile.write(b"\r\n")
        else:
            self.wfile.write(view)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    scheme = "http"
    tls = None  # an ssl.SSLContext with --https

    def finish_request(self, request, client_address):
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                if self.verbose:
                    sys.stderr.write("ota_server: TLS handshake failed: %s\n" % e)
                return
        super().finish_request(request, client_address)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("dir", help="directory of images to serve")
    ap.add_argument("--host", default="127.0.0.1", help="loopback address only")
    ap.add_argument("--port", type=int, default=0, help="0: any free port")
    ap.add_argument("--truncate", type=int)
    ap.add_argument("--corrupt", type=int)
    ap.add_argument("--stall-at", dest="stall", type=int)
    ap.add_argument("--stall-seconds", dest="stall_s", type=float, default=30)
    ap.add_argument("--drop-at", dest="drop", type=int)
    ap.add_argument("--chunked", action="store_const", const=1, default=0)
    ap.add_argument("--chunk-size", dest="chunk", type=int, default=1000)
    ap.add_argument("--redirect", type=int, default=0)
    ap.add_argument("--no-length", dest="nolength", action="store_const", const=1, default=0)
    ap.add_argument("--rate", type=float, help="bytes per second")
    ap.add_argument("--https", metavar="CERT", help="serve HTTPS with this PEM certificate")
    ap.add_argument("--key", help="the PEM private key of --https")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    if bool(args.https) != bool(args.key):
        ap.error("--https and --key go together")
    if not args.host.startswith("127.") and args.host not in ("::1", "localhost"):
        ap.error("--host must be a loopback address: this server misbehaves on purpose")
    root = Path(args.dir).resolve()
    if not root.is_dir():
        ap.error("%s is not a directory" % root)
    server = Server((args.host, args.port), Handler)
    server.root = root
    server.verbose = args.verbose
    server.defaults = {k: getattr(args, k) for k in OPTIONS}
    if args.https:
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(args.https, args.key)
        server.scheme = "https"
    print(
        "ota_server: %s://%s:%d/ serving %s"
        % (server.scheme, args.host, server.server_port, root),
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
