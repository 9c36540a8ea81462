"""Survey measures as survey tools report them: scales, per-answer values, intervals.

Below the product domains, so feedback (survey results), health (the index) and
initiatives (outcomes) read an answer the same way.
"""
