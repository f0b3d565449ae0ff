"""Shared set-up of the lightning_modules tests: ``lightning_test_helpers`` (writers of tiny datasets in
the real on-disk formats) is importable from every test module below this folder."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
