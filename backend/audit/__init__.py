"""The audit trail: who changed what, when, in tamper-evident per-scope chains."""
