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
* ``_report``   the printed tables and the JSON document;
* ``_sessions`` N concurrent duplex calls, Turnstile beside livekit-agents (``--sessions``):
                ``_pacedroom`` (real-time rooms without livekit's audio fan-out),
                ``_sessions_load`` (the child-process harness both halves share),
                ``_sessions_turnstile`` / ``_sessions_peer`` (one per framework; the peer
                runs from ``.venv-peer``) and ``_sentinel`` (the machine's lateness floor).
"""
