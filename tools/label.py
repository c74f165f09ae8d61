#!/usr/bin/env python3
"""Makes a printable label for a device: its name and a QR code that joins its setup network.

A phone's camera reads the QR code and offers to join the device's access point; the captive
portal then opens by itself. Stick the label on the device (or its box) so whoever sets it up
later knows which access point is this device's.

    tools/label.py --mac 24:6f:28:aa:bb:cc              name derived as the firmware does
    tools/label.py --name kitchen-sensor --ap-password 's3cret!' -o kitchen.svg

The MAC is the one esptool prints when it flashes the board ("MAC: ..."). Without --ap-password
the access point is open, which is the default of the firmware.
"""

import argparse
import re
import sys
from pathlib import Path

import segno

MAC = re.compile(r"^[0-9a-fA-F]{2}([:-]?[0-9a-fA-F]{2}){5}$")
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
    if password and not 8 <= len(password.encode()) <= 63:
        raise LabelError("--ap-password: a WPA2 password has 8 to 63 characters")
    if password:
        return "WIFI:T:WPA;S:%s;P:%s;;" % (_escape(ssid), _escape(password))
    return "WIFI:T:nopass;S:%s;;" % _escape(ssid)


def _xml(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def label_svg(name, password=""):
    """The label as an SVG document, sized in millimetres for a 62 x 40 mm label printer: the QR
    code on the left, how to use it on the right, the device name across the bottom."""
    qr = segno.make(join_uri(name, password), error="m", micro=False)
    scale = QR_SIDE_MM / qr.symbol_size(border=2)[0]
    cells = []
    for y, row in enumerate(qr.matrix_iter(border=2)):
        cells += ["M%d %dh1v1h-1z" % (x, y) for x, dark in enumerate(row) if dark]
    # A long name is squeezed to the label's width rather than cut off.
    fit = ' textLength="58" lengthAdjust="spacingAndGlyphs"' if len(name) > 22 else ""
    lines = ["Scan to set up", "WiFi, or join", "this network."]
    lines.append("Password: in the code." if password else "Open, no password.")
    text = "".join(
        '<text x="33" y="%.1f" font-size="2.6">%s</text>\n' % (9 + 4 * i, line)
        for i, line in enumerate(lines)
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
    parser.add_argument("-o", "--output", help="SVG file to write (default: <name>.svg)")
    args = parser.parse_args(argv)
    try:
        name = args.name if args.name is not None else device_name(args.mac)
        svg = label_svg(name, args.ap_password)
    except LabelError as e:
        parser.exit(2, "label: %s\n" % e)
    out = Path(args.output or name + ".svg")
    out.write_text(svg)
    print("label: %s (access point %r)" % (out, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
