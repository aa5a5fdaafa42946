"""Benchmarks for turnstile-agents: chart dispatch cost and idle-agent memory.

Run ``python -m benchmarks`` (or ``make bench``) from the repository root; ``--json FILE``
also writes the figures. The modules:

* ``_shapes``   the machines compared: AgentChart variants, flat python-statemachine
                machines of the same five states, and a ``transitions`` machine;
* ``_cases``    builds one driver per measured case (including a started RealtimeAgent);
* ``_dispatch`` the timing harness (per-event ``perf_counter_ns``, cases interleaved
                cycle by cycle, in rounds);
* ``_quietroom`` a RoomPort without livekit's audio pump, to measure an agent alone;
* ``_idle``     CPU of idle agents (QuietRoom vs LocalRoom);
* ``_memory``   tracemalloc of one idle agent and of many;
* ``_report``   the printed tables and the JSON document.
"""
