"""frozen/wifimgr/partition.py: the file-backed esp32.Partition stand-in and its bootloader.

The otadata records are checked from CPython with ESP-IDF's own rules (tests/helpers/ota.py
reads them as otatool does: CRC-32 of the sequence number with zlib), so the stand-in cannot
drift into a format of its own."""

import json

from helpers import esp_image
from helpers.ota import make_flash, otadata

PRELUDE = """
import json
from wifimgr import partition
from wifimgr.partition import Partition
partition.setup(%r)
"""


def run(micropython, flash, body):
    return micropython.run(PRELUDE % str(flash) + body).splitlines()


def test_api_matches_esp32_partition(micropython, tmp_path):
    flash = make_flash(tmp_path / "f", esp_image.build("esp32", 96 * 1024))
    out = run(
        micropython,
        flash,
        """
r = Partition(Partition.RUNNING)
n = r.get_next_update()
print(json.dumps([r.info(), n.info(), Partition(Partition.BOOT).info()[4]]))
print(json.dumps([p.info()[4] for p in Partition.find(Partition.TYPE_APP)]))
print(json.dumps([p.info()[4] for p in Partition.find(Partition.TYPE_DATA)]))
print(n.ioctl(4, 0), n.ioctl(5, 0), n.ioctl(1, 0))
buf = bytearray(4096)
for i in range(4096):
    buf[i] = i & 0xFF
n.writeblocks(3, buf)
got = bytearray(4096)
n.readblocks(3, got)
print(got == buf)
n.writeblocks(3, b"\\x0f\\xf0", 10)   # no erase: bits can only be cleared
n.readblocks(3, got)
print(got[10], got[11])
n.ioctl(6, 3)
n.readblocks(3, got, 0)
print(got == b"\\xff" * 4096)
for bad in (lambda: Partition("nvs"), lambda: n.readblocks(10000, got),
            lambda: n.writeblocks(0, b"123"), lambda: Partition("otadata").set_boot()):
    try:
        bad()
        print("no error")
    except OSError as e:
        print("OSError", e.args[0])
""",
    )
    infos = json.loads(out[0])
    assert infos[0] == [0, 0x10, 0x10000, 0x1D0000, "ota_0", False]
    assert infos[1] == [0, 0x11, 0x1E0000, 0x1D0000, "ota_1", False]
    assert infos[2] == "ota_0"
    assert json.loads(out[1]) == ["ota_0", "ota_1"] and json.loads(out[2]) == ["otadata"]
    assert out[3] == "464 4096 0"
    assert out[4:7] == ["True", "10 0", "True"]  # 0x0a & 0x0f, 0x0b & 0xf0
    assert out[7:] == ["OSError 2", "OSError 22", "OSError 22", "OSError 22"]


def test_set_boot_without_an_image_is_refused(micropython, tmp_path):
    flash = make_flash(tmp_path / "f", esp_image.build("esp32", 96 * 1024))
    out = run(
        micropython,
        flash,
        """
try:
    Partition(Partition.RUNNING).get_next_update().set_boot()
except OSError as e:
    print(e.args[1])
""",
    )
    assert out == ["ESP_ERR_OTA_VALIDATE_FAILED: ota_1 holds no app image"]
    assert otadata(flash) == ([(0xFFFFFFFF, "0xffffffff", False)] * 2, None)


def test_rollback_states_new_pending_valid(micropython, tmp_path):
    """set_boot writes NEW with the next sequence; the next boot runs it PENDING_VERIFY;
    marking it valid makes it VALID and later boots keep it."""
    image = esp_image.build("esp32", 96 * 1024)
    flash = make_flash(tmp_path / "f", image)
    (flash / "ota_1.bin").write_bytes(image)
    out = run(
        micropython,
        flash,
        """
Partition("ota_1").set_boot()
print(partition.state_of(1), Partition(Partition.BOOT).info()[4], partition.running_slot())
print(partition.boot(), partition.state_of(1))
Partition.mark_app_valid_cancel_rollback()
print(partition.state_of(1), partition.boot(), partition.state_of(1))
""",
    )
    assert out == ["new ota_1 0", "1 pending_verify", "valid 1 valid"]
    entries, boot = otadata(flash)
    assert boot == 1 and entries[0] == (1 + 1, "valid", True)  # seq 2 boots ota_1, sector 0


def test_pending_image_is_aborted_at_the_next_boot(micropython, tmp_path):
    image = esp_image.build("esp32", 96 * 1024)
    flash = make_flash(tmp_path / "f", image)
    (flash / "ota_1.bin").write_bytes(image)
    out = run(
        micropython,
        flash,
        """
Partition("ota_1").set_boot()
print(partition.boot(), partition.state_of(1))
print(partition.boot(), partition.state_of(1))
print(partition.boot(), Partition(Partition.BOOT).info()[4])
""",
    )
    assert out == ["1 pending_verify", "0 aborted", "0 ota_0"]
    assert otadata(flash)[1] is None


def test_sequence_alternates_sectors_and_slots(micropython, tmp_path):
    image = esp_image.build("esp32", 96 * 1024)
    flash = make_flash(tmp_path / "f", image)
    (flash / "ota_1.bin").write_bytes(image)
    out = run(
        micropython,
        flash,
        """
for target in ("ota_1", "ota_0", "ota_1"):
    Partition(target).set_boot()
    slot = partition.boot()
    Partition.mark_app_valid_cancel_rollback()
    print(slot, partition.state_of(slot))
""",
    )
    assert out == ["1 valid", "0 valid", "1 valid"]
    entries, boot = otadata(flash)
    assert sorted(e[0] for e in entries) == [2, 3] or sorted(e[0] for e in entries) == [3, 4]
    assert boot == 1 and all(e[2] for e in entries)


def test_power_loss_tears_the_write(micropython, tmp_path):
    flash = make_flash(tmp_path / "f", esp_image.build("esp32", 96 * 1024))
    out = run(
        micropython,
        flash,
        """
n = Partition("ota_1")
partition.power_fail_after(4096 + 100)
try:
    n.writeblocks(0, b"\\x00" * 4096)
except partition.PowerLoss:
    print("lost")
got = bytearray(4096)
n.readblocks(0, got)
print(got[:100] == b"\\x00" * 100, got[100:] == b"\\xff" * 3996)
""",
    )
    assert out == ["lost", "True True"]


def test_partition_ids_and_erase_as_esp32_partition_c(micropython, tmp_path):
    """Follows esp32_partition.c: esp32_partition_make_new() takes BOOT, RUNNING or a label
    (ValueError for another number, OSError ENOENT for an unknown label), and
    esp32_partition_ioctl() erases only with 4 KiB blocks (-EINVAL otherwise)."""
    flash = make_flash(tmp_path / "f", esp_image.build("esp32", 96 * 1024))
    out = run(
        micropython,
        flash,
        """
def err(f):
    try:
        f()
        return None
    except Exception as e:
        return [type(e).__name__] + list(e.args[:1])
small = Partition("ota_1", 512)
print(json.dumps([err(lambda: Partition(7)), err(lambda: Partition("nvs_x")),
                  small.ioctl(6, 0), Partition("ota_1").ioctl(6, 0)]))
""",
    )
    assert json.loads(out[-1]) == [["ValueError"], ["OSError", 2], -22, 0]


def test_ota_on_a_device_never_imports_the_host_stand_in(micropython):
    """With esp32.Partition there (a device), `import wifimgr.ota` leaves the host flash
    stand-in (and its buffers) out: the otadata records come from wifimgr.otadata, and the
    board's chip and build from wifimgr.platform."""
    out = micropython.run(
        """
import sys
class esp32:
    class Partition:
        pass
sys.modules["esp32"] = esp32
import wifimgr.ota
print(sorted(m for m in sys.modules if m.startswith("wifimgr.")))
"""
    )
    loaded = out.strip().splitlines()[-1]
    assert "wifimgr.partition" not in loaded
    assert "wifimgr.otadata" in loaded and "wifimgr.platform" in loaded
