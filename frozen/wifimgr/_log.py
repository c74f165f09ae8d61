"""The package's logger: micropython-lib `logging` when it is installed, quiet without it.

wifimgr is quiet by default: its logger ("wifimgr") lets only errors through until the
application lowers the level with `wifimgr.log_level(logging.INFO)`. `logging` costs about
4 KB of heap, so it is imported only when something is to be logged (an error, or after
log_level()) or when the application has imported it already; without it, what passes the
level is printed as "LEVEL:wifimgr:message" on stderr.
"""

import sys

from micropython import const

DEBUG = const(10)
INFO = const(20)
WARNING = const(30)
ERROR = const(40)
_NAMES = {DEBUG: "DEBUG", INFO: "INFO", WARNING: "WARNING", ERROR: "ERROR"}

logging = None  # the micropython-lib module once it is in use


class _Log:
    # The part of logging.Logger that wifimgr uses, forwarding to "wifimgr" of `logging`.
    def __init__(self):
        self.level = ERROR
        self._logger = None
        if "logging" in sys.modules:
            self._attach()

    def _attach(self):
        global logging
        if self._logger is not None:
            return self._logger
        try:
            import logging
        except ImportError:
            return None
        self._logger = logging.getLogger("wifimgr")
        self._logger.setLevel(self.level)
        return self._logger

    def setLevel(self, level):
        self.level = level
        logger = self._attach()
        if logger is not None:
            logger.setLevel(level)

    def isEnabledFor(self, level):
        return level >= self.level

    def log(self, level, msg, *args):
        if level < self.level:
            return
        logger = self._attach()
        if logger is not None:
            logger.log(level, msg, *args)
            return
        if args:
            msg = msg % args
        print("%s:wifimgr:%s" % (_NAMES.get(level, level), msg), file=sys.stderr)

    def debug(self, msg, *args):
        self.log(DEBUG, msg, *args)

    def info(self, msg, *args):
        self.log(INFO, msg, *args)

    def warning(self, msg, *args):
        self.log(WARNING, msg, *args)

    def error(self, msg, *args):
        self.log(ERROR, msg, *args)


log = _Log()
