"""Authorization: what a principal may see and touch."""
