"""tests/helpers/esp_image.py: the test images are real app images as esptool reads them, and
each wrong kind is wrong in exactly the way it says."""

import hashlib
import struct

import pytest
from esptool.bin_image import LoadFirmwareImage
from helpers import esp_image

import boards


def load(chip, data):
    image = LoadFirmwareImage(chip, data)
    return image, image.calculate_checksum() == image.checksum


@pytest.mark.parametrize("chip", sorted(esp_image.CHIP_IDS))
def test_images_are_valid_for_esptool(chip):
    data = esp_image.build(chip, 200 * 1024, version="9.8.7")
    image, checksum_ok = load(chip, data)
    assert checksum_ok and image.stored_digest == image.calc_digest
    assert image.chip_id == boards.CHIP_ID[chip] == esp_image.CHIP_IDS[chip]
    assert 1 <= len(image.segments) <= 16
    assert data[32:36] == struct.pack("<I", esp_image.APP_DESC_MAGIC)
    assert data[48:53] == b"9.8.7"
    assert len(data) > 128 * 1024


def test_every_chip_a_board_uses_has_images():
    assert {b["chip"] for b in boards.builds()} <= set(esp_image.CHIP_IDS)


def test_images_differ_by_seed_and_version():
    a = esp_image.build("esp32", 100 * 1024, seed=1)
    assert a == esp_image.build("esp32", 100 * 1024, seed=1)
    assert a != esp_image.build("esp32", 100 * 1024, seed=2)
    assert a != esp_image.build("esp32", 100 * 1024, version="0.3.0")


def test_wrong_kinds_are_wrong_as_named():
    chip = "esp32c3"
    good = esp_image.build(chip, 100 * 1024)
    end = esp_image.parse(good)[2]
    wrong = {k: esp_image.wrong(k, chip, 100 * 1024) for k in esp_image.WRONG}
    assert wrong["magic"][0] == 0xE8 and wrong["segments"][1] == 0
    image, checksum_ok = load(chip, wrong["checksum"])
    assert not checksum_ok and image.stored_digest == image.calc_digest
    image, checksum_ok = load(chip, wrong["digest"])
    assert checksum_ok and image.stored_digest != image.calc_digest
    image, checksum_ok = load(chip, wrong["body"])
    assert not checksum_ok and image.stored_digest != image.calc_digest
    image, _ok = load(chip, wrong["chip"])
    assert image.chip_id != esp_image.CHIP_IDS[chip]
    assert image.stored_digest == hashlib.sha256(wrong["chip"][:end]).digest()
    assert wrong["truncated"] == good[:-100]
