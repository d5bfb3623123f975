"""retailsage: one SageMaker-native image (train + serve) for retail ML, and its pipeline."""

__version__ = "0.1.0"
