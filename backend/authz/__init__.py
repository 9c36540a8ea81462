"""Authorization: what a subject (the caller) may see and touch."""
