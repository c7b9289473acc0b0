"""Helpers of the chaos suites (``tests/test_chaos_*.py``): faults on loopback, and the checks
that every scenario ends with exactly the expected state.

    >>> from chaos.profile import LONG, scale        # CONTEXTBRIDGE_PROFILE=long: the long profile
    >>> from chaos.seeds import seeds, reported      # CONTEXTBRIDGE_CHAOS_SEED=N: replay one run
    >>> from chaos.proxy import TcpProxy             # cut and refuse TCP connections to a service
    >>> from chaos.fault_broker import FaultyBroker  # Orion-LD double answering with random faults
    >>> from chaos.disk import small_disk            # a tmpfs that fills up, and grows again
    >>> from chaos.pipeline import Pipeline          # a feed, the outbox and both drainers in one loop
    >>> from chaos.state import assert_broker, assert_graph, assert_dead_letters, assert_in_order
"""
