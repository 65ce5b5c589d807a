"""Fault suites over the whole program day: the crash suite (SIGKILL, rerun, compare)."""
