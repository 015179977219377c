"""A catalogue of bad and awkward inputs for every public entry point, and its runner.

``python -m tests.bad_inputs`` (from the repository root) runs every case in-process and
prints a markdown table of outcome classes per entry point, then the cases that do not
pass. ``tests/test_bad_inputs.py`` runs the same cases under pytest. See
:mod:`tests.bad_inputs.engine` for the classes and :mod:`tests.bad_inputs.catalogue` for
the cases.
"""
