# The portal's page (GET / and /index.html): as the build gzipped it (tools/portal/mkpage.py,
# in _page), or unzipped as it is sent to a browser that does not take gzip, with its ETag.
# Loaded for each request (wifimgr.call_dropped from portal.api) and dropped after it.

from .http import Response


def page(visit, req):
    """GET / (and /index.html, HEAD): the page, gzipped when the browser takes it."""
    gz, length, etag, size, wbits = _load()
    headers = [
        ("ETag", etag),
        ("Cache-Control", "no-cache"),
        ("Vary", "Accept-Encoding"),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline';"
            " connect-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'",
        ),
    ]
    gzipped = "gzip" in _codings(req.header("accept-encoding"))
    if not gzipped:
        etag = etag[:-1] + '-identity"'  # another representation, another tag
        headers[0] = ("ETag", etag)
    if req.header("if-none-match") == etag:
        return Response(304, b"", "text/html; charset=utf-8", headers)
    if not gzipped:
        return Response(200, _gunzip(gz, wbits), "text/html; charset=utf-8", headers, size)
    headers.append(("Content-Encoding", "gzip"))
    return Response(200, gz, "text/html; charset=utf-8", headers, length)


def _load():
    # The page, gzipped by the build (tools/portal/mkpage.py): _page.GZIP, frozen bytes that
    # stay in flash, or (as mip installs it) the file _page.FILE beside the module, streamed
    # from the filesystem so that it never sits on the heap. (gz: bytes or a function that
    # opens them, its length, the ETag, the size unzipped, the window it was made with)
    import wifimgr

    from . import _page

    wifimgr.drop("portal._page")  # the names below are all this request needs of it
    if _page.FILE is None:
        return _page.GZIP, len(_page.GZIP), _page.ETAG, _page.SIZE, _page.WBITS
    import os

    path = _page.__file__.rsplit("/", 1)[0] + "/" + _page.FILE
    return lambda: open(path, "rb"), os.stat(path)[6], _page.ETAG, _page.SIZE, _page.WBITS


def _codings(header):
    out = []
    for part in header.lower().split(","):
        bits = part.split(";")
        name = bits[0].strip()
        q = [b.strip() for b in bits[1:] if b.strip().startswith("q=")]
        if q and q[0][2:].strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        out.append(name)
    return out


def _gunzip(gz, wbits):
    # The page unzipped as it is sent (http.send streams it), in a window of 2**wbits bytes.
    def open_plain():
        import deflate

        if callable(gz):
            return deflate.DeflateIO(gz(), deflate.GZIP, wbits, True)
        import io

        return deflate.DeflateIO(io.BytesIO(gz), deflate.GZIP, wbits)

    return open_plain
