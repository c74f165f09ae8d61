#!/usr/bin/env python3
"""Makes a printable label for a device: its name, its setup key and a QR code that joins its
setup network.

A phone's camera reads the QR code and offers to join the device's access point; the captive
portal then opens by itself. Stick the label on the device (or its box) so whoever sets it up
later knows which access point is this device's, and has its setup key: the passphrase of its
access point once it is provisioned, and what unlocks its settings in the portal (README, "Who
can do what").

    tools/label.py --mac 24:6f:28:aa:bb:cc --setup-key 3eyc-nd3w-hd4g
    tools/label.py --name kitchen-sensor --ap-password 's3cret!' -o kitchen.svg

The MAC is the one esptool prints when it flashes the board ("MAC: ..."); the setup key is the
one the device prints on its serial console at every boot ("wifimgr: setup key ..."). The QR
code's password is --ap-password when the access point has one of its own, else the setup key;
with neither, the access point is open (a first boot without setup_ap_secured).
"""

import argparse
import re
import sys
from pathlib import Path

import segno

MAC = re.compile(r"^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$")
# wifimgr._seal.make_setup_key(): three groups of four of SETUP_KEY_ALPHABET.
SETUP_KEY_ALPHABET = "3467acdefghjkmnpqrtwxy"
SETUP_KEY = re.compile(r"^[%s]{4}(-[%s]{4}){2}$" % (SETUP_KEY_ALPHABET, SETUP_KEY_ALPHABET))
QR_SIDE_MM = 30
LABEL_W_MM, LABEL_H_MM = 62, 40


class LabelError(ValueError):
    pass


def device_name(mac):
    """The default device name for a chip whose unique id (base MAC) is `mac`, as
    wifimgr.config.default_device_name() derives it on the device."""
    if not MAC.match(mac):
        raise LabelError("--mac %r: expected six hex bytes like 24:6f:28:aa:bb:cc" % mac)
    digits = re.sub("[:-]", "", mac).lower()
    return "wifimgr-" + digits[-6:]


def _escape(text):
    # The WIFI: URI scheme escapes these with a backslash.
    return re.sub(r'([\\;,":])', r"\\\1", text)


def join_uri(ssid, password=""):
    """The WIFI: string that phone cameras turn into "join this network"."""
    if not 1 <= len(ssid.encode()) <= 32:
        raise LabelError("access point name %r: must be 1 to 32 bytes" % ssid)
    if password and not (8 <= len(password) <= 63 and password.isascii()):
        raise LabelError("--ap-password: a WPA2 password has 8 to 63 characters of ASCII")
    if password:
        return "WIFI:T:WPA;S:%s;P:%s;;" % (_escape(ssid), _escape(password))
    return "WIFI:T:nopass;S:%s;;" % _escape(ssid)


def _xml(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def check_setup_key(key):
    if not SETUP_KEY.match(key):
        raise LabelError(
            "--setup-key %r: expected the key the device prints at boot, like 3eyc-nd3w-hd4g" % key
        )
    return key


def label_svg(name, password="", setup_key=""):
    """The label as an SVG document, sized in millimetres for a 62 x 40 mm label printer: the QR
    code on the left, how to use it and the setup key on the right, the device name across the
    bottom."""
    if setup_key:
        check_setup_key(setup_key)
    qr = segno.make(join_uri(name, password or setup_key), error="m", micro=False)
    scale = QR_SIDE_MM / qr.symbol_size(border=2)[0]
    cells = []
    for y, row in enumerate(qr.matrix_iter(border=2)):
        cells += ["M%d %dh1v1h-1z" % (x, y) for x, dark in enumerate(row) if dark]
    # A long name is squeezed to the label's width rather than cut off.
    fit = ' textLength="58" lengthAdjust="spacingAndGlyphs"' if len(name) > 22 else ""
    lines = ["Scan to set up", "WiFi, or join", "this network."]
    if setup_key:
        lines.append("Setup key:")
    else:
        lines.append("Password: in the code." if password else "Open, no password.")
    text = "".join(
        '<text x="33" y="%.1f" font-size="2.6">%s</text>\n' % (9 + 4 * i, line)
        for i, line in enumerate(lines)
    )
    if setup_key:
        text += (
            '<text x="33" y="%.1f" font-size="3.0" font-family="monospace" font-weight="bold">'
            "%s</text>\n" % (9 + 4 * len(lines) + 0.6, setup_key)
        )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="{w}mm" height="{h}mm" '
        'viewBox="0 0 {w} {h}">\n'
        '<rect width="{w}" height="{h}" fill="#fff"/>\n'
        '<g transform="translate(1 1) scale({scale:.5f})"><path fill="#000" d="{path}"/></g>\n'
        '<g font-family="sans-serif" fill="#000">\n{text}'
        '<text x="2" y="37" font-size="3.6" font-weight="bold"{fit}>{name}</text>\n'
        "</g>\n</svg>\n"
    ).format(
        w=LABEL_W_MM,
        h=LABEL_H_MM,
        scale=scale,
        path="".join(cells),
        text=text,
        fit=fit,
        name=_xml(name),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    who = parser.add_mutually_exclusive_group(required=True)
    who.add_argument("--name", help="the device name (its access point's name)")
    who.add_argument("--mac", help="the chip's MAC, to derive the default device name")
    parser.add_argument("--ap-password", default="", help="the access point's password, if set")
    parser.add_argument(
        "--setup-key", default="", help="the setup key the device prints on its console at boot"
    )
    parser.add_argument("-o", "--output", help="SVG file to write (default: <name>.svg)")
    args = parser.parse_args(argv)
    try:
        name = args.name if args.name is not None else device_name(args.mac)
        svg = label_svg(name, args.ap_password, args.setup_key)
    except LabelError as e:
        parser.exit(2, "label: %s\n" % e)
    out = Path(args.output or name + ".svg")
    out.write_text(svg)
    print("label: %s (access point %r)" % (out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
