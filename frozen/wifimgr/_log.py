"""The package's logger: micropython-lib `logging` when it is installed, else a quiet stand-in.

wifimgr is quiet by default: its logger ("wifimgr") only lets errors through until the
application lowers the level, with `wifimgr.log_level(logging.INFO)` or
`logging.getLogger("wifimgr").setLevel(...)`. Without `logging` the stand-in keeps the same
levels and prints what passes as "LEVEL:wifimgr:message" on stderr.
"""

from micropython import const

DEBUG = const(10)
INFO = const(20)
WARNING = const(30)
ERROR = const(40)
_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}


class _Quiet:
    # The part of logging.Logger that wifimgr uses.
    def __init__(self, name):
        self.name = name
        self.level = ERROR

    def setLevel(self, level):
        self.level = level

    def isEnabledFor(self, level):
        return level >= self.level

    def log(self, level, msg, *args):
        if level >= self.level:
            import sys

            if args:
                msg = msg % args
            print("%s:%s:%s" % (_NAMES.get(level, level), self.name, msg), file=sys.stderr)

    def debug(self, msg, *args):
        self.log(DEBUG, msg, *args)

    def info(self, msg, *args):
        self.log(INFO, msg, *args)

    def warning(self, msg, *args):
        self.log(WARNING, msg, *args)

    def error(self, msg, *args):
        self.log(ERROR, msg, *args)


try:
    import logging

    log = logging.getLogger("wifimgr")
    log.setLevel(ERROR)
except ImportError:
    logging = None
    log = _Quiet("wifimgr")
