"""Moving numpy arrays between parties: the Link contract (base), the frame format (wire),
traffic counters (stats), the in-process link for threads (memory), collectives, and a
latency/bandwidth shaper for benchmarks. Imports nothing else of veil except `veil.errors`."""
