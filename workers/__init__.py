"""Background work: dramatiq broker setup and actors."""
