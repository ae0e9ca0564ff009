"""Where the tests find the repository's files, wherever a test module lives under tests/."""

from pathlib import Path

#: tests/
TESTS = Path(__file__).resolve().parent
#: The repository's root.
ROOT = TESTS.parent
#: tests/conformance: the scenarios recorded from the reference driver.
CONFORMANCE_DIR = TESTS / "conformance"
