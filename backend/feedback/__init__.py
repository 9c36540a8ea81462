"""Customer feedback: what people said about a touchpoint, from every door."""
