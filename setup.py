"""Build of the one C extension (the ASCII fast path of detectors/text.py); everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("detectors._textfast", ["detectors/_textfast.c"], optional=True)])
