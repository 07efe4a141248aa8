"""Simulated robots: Meta-World tasks with their scripted experts (true actions known)."""
