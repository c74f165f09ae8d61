# wifimgr: gets a MicroPython device onto WiFi and keeps it there.

__version__ = "0.1.0"

try:
    import _wifimgr
except ImportError:
    _wifimgr = None

# "native" when the firmware has the C module, "python" on stock MicroPython and the unix port.
backend = "native" if _wifimgr else "python"
