"""The test suite: one folder per room of the package, shared fixtures in conftest.py.

A package, so that each test module has one name (``tests.…``) for pytest, mypy and the tests'
own imports (``from tests.conftest import Telemetry``), rather than a second one from pytest's
rootdir.
"""
