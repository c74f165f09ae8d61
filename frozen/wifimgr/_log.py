"""The package's logger: micropython-lib `logging` when it is installed, quiet without it.

Used as `from wifimgr import _log as log; log.error("...")`. wifimgr is quiet by default: only
errors pass until the application lowers the level with `wifimgr.log_level(logging.INFO)`.
`logging` costs about 4 KB of heap, so it is imported only when something is to be logged (an
error, or after log_level()) or when the application has imported it already; it then gets
everything as its "wifimgr" logger. Without it, what passes the level is printed as
"LEVEL:wifimgr:message" on stderr.
"""

import sys

from micropython import const

DEBUG = const(10)
INFO = const(20)
WARNING = const(30)
ERROR = const(40)

level = ERROR
logging = None  # the micropython-lib module once it is in use
_logger = None


def _attach():
    global logging, _logger
    if _logger is None:
        try:
            import logging
        except (ImportError, MemoryError):  # not installed, or no heap left for it: print
            return None
        _logger = logging.getLogger("wifimgr")
        _logger.setLevel(level)
    return _logger


def setLevel(new):
    global level
    level = new
    if _attach() is not None:
        _logger.setLevel(new)


def escape(text):
    """`text` with control characters (C0, DEL, C1) written as \\n, \\r, \\t or \\xNN: a
    message holding an SSID from the air stays one line; it can neither forge a line of its
    own nor send escape sequences to the console."""
    for c in text:
        if c < " " or "\x7f" <= c <= "\x9f":
            break
    else:
        return text
    out = []
    for c in text:
        if c < " " or "\x7f" <= c <= "\x9f":
            i = "\n\r\t".find(c)
            out.append("\\" + "nrt"[i] if i >= 0 else "\\x%02x" % ord(c))
        else:
            out.append(c)
    return "".join(out)


def log(lvl, msg, *args):
    # Never raises MemoryError: a line that finds no heap to be said with is lost, and the
    # caller (a task's error handler, often) goes on; what matters is in status() as well.
    if lvl < level:
        return
    try:
        if args:
            msg = msg % args
        msg = escape(msg)
        if _attach() is not None:
            _logger.log(lvl, "%s", msg)
            return
        # In pieces, nothing built for the line: what is said when the heap runs short fits.
        name = (
            ("DEBUG", "INFO", "WARNING")[lvl // 10 - 1]
            if lvl in (DEBUG, INFO, WARNING)
            else "ERROR"
        )
        print(name, "wifimgr", msg, sep=":", file=sys.stderr)
    except MemoryError:
        pass


def debug(msg, *args):
    log(DEBUG, msg, *args)


def info(msg, *args):
    log(INFO, msg, *args)


def warning(msg, *args):
    log(WARNING, msg, *args)


def error(msg, *args):
    log(ERROR, msg, *args)


if "logging" in sys.modules:
    _attach()
