"""tests/firmware: the firmware build glue in firmware/ is importable from these tests."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT / "firmware"))
