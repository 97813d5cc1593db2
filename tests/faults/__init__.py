"""Real-fault scenarios: the client against the fake server in a private network namespace.

``scenarios`` is the entry point (``python -m tests.faults.scenarios NAME --json-report FILE``),
``harness`` the bookkeeping, ``netns`` the firewall and server process, ``tap`` a wire tap.
``tests/test_faults.py`` runs each scenario under ``unshare`` and asserts on its report.
"""
