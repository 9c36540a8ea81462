"""Fault injection into a real deployment on loopback (`make faults`); docs/reliability.md."""
